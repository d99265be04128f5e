import { parseInput } from '../../core/operation.js';
import { LeaseId, ReleasedLease, requireVerifier } from '../../core/verify.js';
import { credentialOf } from '../credential.js';
import { defineRoute } from '../route.js';
import { z } from 'zod';

const ReleaseInput = z.object({ id: LeaseId }).strict();

export const releaseLeaseRoute = defineRoute({
  method: 'POST',
  path: '/v1/leases/:id/release',
  operationId: 'releaseLease',
  summary: 'Release a concurrency lease',
  description:
    "Frees the concurrency slot a verify with hold took, at once and in every process. Releasing twice, or an expired lease, answers the lease unchanged; another organization's lease answers 404. Not charged.",
  auth: true,
  charged: false,
  permission: 'keys:verify',
  status: 200,
  response: ReleasedLease,
  async handle(c, { gate, service }) {
    const caller = await gate.peek(credentialOf(c));
    c.set('keyStart', caller.key.start);
    requireVerifier(caller);
    const { id } = parseInput(ReleaseInput, c.req.param());
    return c.json(await service.releaseLease(caller, id), 200);
  },
});
