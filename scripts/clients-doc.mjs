// Writes docs/clients.md from the client configs in src/cli/clients.ts (build first: npm run docs:clients).
import { writeFileSync } from 'node:fs';
import { renderClientsDoc } from '../dist/cli/clients-doc.js';

writeFileSync(new URL('../docs/clients.md', import.meta.url), renderClientsDoc());
