// A small Dispersl-style API guarded by dispersl-mcp keys: POST /v1/agent/chat answers a canned reply
// to any key of your organization that is valid, within its hourly quota and its concurrency.
//
//   KEYS_URL=http://127.0.0.1:8787 VERIFIER_KEY=pk_live_… node examples/agent-api/server.js
//
// VERIFIER_KEY is a key holding keys:verify (or admin). PORT (default 8788), HOST (default 127.0.0.1).
import { createServer } from 'node:http';
import { createVerifier, guardRequest } from 'dispersl-mcp/verify';

const baseUrl = process.env.KEYS_URL ?? 'http://127.0.0.1:8787';
const key = process.env.VERIFIER_KEY;
if (!key) {
  process.stderr.write('agent-api: set VERIFIER_KEY to a dispersl-mcp key holding keys:verify\n');
  process.exit(2);
}

const verifier = createVerifier({ baseUrl, key });
// Every chat holds one of the caller's concurrency slots until its answer is sent.
const guard = guardRequest(verifier, { hold: true, lease_ms: 60_000 });

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'POST' || pathname !== '/v1/agent/chat') {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 404, type: 'NOT_FOUND', message: 'Not found', details: {} } }));
    return;
  }
  const outcome = await guard(req, res);
  if (!outcome.ok) return;
  let body = '';
  for await (const chunk of req) body += chunk;
  let message = '';
  try {
    message = String(JSON.parse(body || '{}').message ?? '');
  } catch {
    // an unreadable body gets the same canned reply
  }
  const delay = Number(new URL(req.url ?? '/', 'http://localhost').searchParams.get('think_ms') ?? 0);
  if (delay > 0) await new Promise((r) => setTimeout(r, Math.min(delay, 30_000)));
  res.writeHead(200, { 'content-type': 'application/json' }).end(
    JSON.stringify({ reply: 'Hello from the Dispersl agent. I am a canned reply.', echo: message.slice(0, 200), key_id: outcome.result.key?.id }),
  );
});

server.listen(Number(process.env.PORT ?? 8788), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  process.stderr.write(`${JSON.stringify({ msg: 'agent-api listening', url: `http://${address}:${port}` })}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => (verifier.close(), process.exit(0))));
