// Baseline of http-rest.bench.js: a bare Hono route on @hono/node-server answering GET /v1/keys
// with the same JSON our server returns, with no authentication, quota or database at all.
import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const page = JSON.parse(readFileSync(process.env.PAGE_FILE, 'utf8'));
const app = new Hono();
app.get('/v1/keys', (c) => c.json(page));
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
