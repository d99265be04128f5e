// Baseline of verify.bench.js: a bare Hono route on @hono/node-server answering POST /v1/keys/verify
// with the same JSON our server returns, reading the JSON body, with no authentication or database.
import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const answer = JSON.parse(readFileSync(process.env.ANSWER_FILE, 'utf8'));
const app = new Hono();
app.post('/v1/keys/verify', async (c) => {
  await c.req.json();
  return c.json(answer);
});
app.post('/v1/leases/:id/release', (c) => c.json({ id: c.req.param('id') }));
app.get('/healthz', (c) => c.json({ status: 'ok' }));
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
