import type { z } from 'zod';
import type { Operation } from '../operation.js';
import { generateKey } from './generate-key.js';
import { getKey } from './get-key.js';
import { getUsage } from './get-usage.js';
import { listEvents } from './list-events.js';
import { listKeys } from './list-keys.js';
import { revokeKey } from './revoke-key.js';
import { rotateKey } from './rotate-key.js';
import { updateKey } from './update-key.js';
import { whoami } from './whoami.js';

/** Every operation, in the order MCP lists its tools. The keys are the KeyApi's method names. */
export const OPERATIONS = { listKeys, getKey, generateKey, revokeKey, rotateKey, updateKey, whoami, getUsage, listEvents } as const;

export type OperationName = keyof typeof OPERATIONS;
export type OperationResult<N extends OperationName> = z.output<(typeof OPERATIONS)[N]['output']>;
export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];

export function operationList(): ReadonlyArray<readonly [OperationName, Operation]> {
  return OPERATION_NAMES.map((name) => [name, OPERATIONS[name] as unknown as Operation] as const);
}
