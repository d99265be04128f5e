import type { Tool } from '../tool.js';
import { generateKey } from './generate-key.js';
import { getKey } from './get-key.js';
import { listKeys } from './list-keys.js';
import { revokeKey } from './revoke-key.js';
import { rotateKey } from './rotate-key.js';
import { updateKey } from './update-key.js';
import { whoami } from './whoami.js';

export const TOOLS: readonly Tool[] = [listKeys, getKey, generateKey, revokeKey, rotateKey, updateKey, whoami];
