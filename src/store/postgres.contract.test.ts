import { afterAll, describe } from 'vitest';
import { type PgCluster, startCluster } from '../testing/postgres.js';
import { describeStoreContract } from './contract.js';
import { PostgresStore } from './postgres.js';

/**
 * The contract on a real PostgreSQL: one throwaway cluster for the file, a schema of its own per
 * test (as empty as a new database to a store); each connect is another process's pool.
 */
const cluster: PgCluster | undefined = await startCluster('PostgresStore contract');

if (cluster) {
  afterAll(() => cluster.stop());
  describeStoreContract('PostgresStore', async () => {
    const url = await cluster.createSchema();
    return {
      connect: () => PostgresStore.open(url, { poolMax: 4 }),
      destroy: async () => {
        const schema = decodeURIComponent(new URL(url).searchParams.get('options') ?? '').replace('-c search_path=', '');
        await cluster.sql(url, `DROP SCHEMA ${schema} CASCADE`);
      },
    };
  });
} else {
  describe.skip('PostgresStore: the KeyStore contract (no PostgreSQL installed)', () => {});
}
