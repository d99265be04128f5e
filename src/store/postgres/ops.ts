import type { StoreOps } from '../../core/store.js';
import * as keys from './keys.js';
import * as leases from './leases.js';
import * as orgs from './orgs.js';
import type { Queryable } from './query.js';
import * as secrets from './secrets.js';
import * as sessions from './sessions.js';
import * as usage from './usage.js';

/**
 * The StoreOps on one queryable: the pool for the store's own calls, a client holding a transaction
 * for a transaction's handle. Each method is one function of its area's module.
 */
export function opsOn(q: Queryable): StoreOps {
  return {
    insertOrganization: (org) => orgs.insertOrganization(q, org),
    getOrganization: (id) => orgs.getOrganization(q, id),
    hasOrganizations: () => orgs.hasOrganizations(q),
    findByHash: (hash) => keys.findByHash(q, hash),
    findById: (id) => keys.findById(q, id),
    getKey: (orgId, id) => keys.getKey(q, orgId, id),
    listKeys: (orgId, options) => keys.listKeys(q, orgId, options),
    insertKey: (key) => keys.insertKey(q, key),
    revokeKey: (id, at) => keys.revokeKey(q, id, at),
    rotateKey: (id, change) => keys.rotateKey(q, id, change),
    updateKey: (id, change) => keys.updateKey(q, id, change),
    appendAudit: (event) => orgs.appendAudit(q, event),
    listEvents: (orgId, query) => orgs.listEvents(q, orgId, query),
    usageBuckets: (orgId, query) => usage.usageBuckets(q, orgId, query),
    topKeys: (orgId, query) => usage.topKeys(q, orgId, query),
    pruneUsage: (before) => usage.pruneUsage(q, before),
    releaseLease: (orgId, id, at) => leases.releaseLease(q, orgId, id, at),
    heartbeat: (owner, at) => leases.heartbeat(q, owner, at),
    listSigningKeys: () => secrets.listSigningKeys(q),
    insertSigningKey: (key) => secrets.insertSigningKey(q, key),
    retireSigningKey: (kid, at) => secrets.retireSigningKey(q, kid, at),
    replaceSigningKeySecret: (kid, from, to) => secrets.replaceSigningKeySecret(q, kid, from, to),
    pruneSigningKeys: (before) => secrets.pruneSigningKeys(q, before),
    serverSecret: (name, make, at) => secrets.serverSecret(q, name, make, at),
    useRequestState: (nonce, expiresAt, now) => secrets.useRequestState(q, nonce, expiresAt, now),
    insertReveal: (reveal) => secrets.insertReveal(q, reveal),
    takeReveal: (id, now) => secrets.takeReveal(q, id, now),
    hasReveal: (id, now) => secrets.hasReveal(q, id, now),
    insertSession: (session) => sessions.insertSession(q, session),
    touchSession: (id, now, until, ifBefore) => sessions.touchSession(q, id, now, until, ifBefore),
    deleteSession: (id) => sessions.deleteSession(q, id),
  };
}
