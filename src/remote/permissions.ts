import type { RestClient } from './rest-client.js';

/** tools/list must not hold up an IDE for long: past this, every tool is shown and the server decides. */
const PROBE_TIMEOUT_MS = 3_000;
const WRITE_TOOL = 'generate_key';

/**
 * Which tools the server shows this key, asked with MCP `tools/list` on the server's `/mcp`: over
 * HTTP that costs no request of the quota, where any REST call would. The answer is expressed as
 * the one permission that decides visibility (keys:write or keys:read). Undefined when the server
 * cannot say: down, slow, a base URL not ending in /v1, or a key it refuses (the first tool call
 * then reports why).
 */
export async function probePermissions(client: RestClient): Promise<readonly string[] | undefined> {
  const path = client.sibling('/mcp');
  if (path === undefined) return undefined;
  try {
    const answer = await client.send({
      method: 'POST',
      path,
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      headers: { accept: 'application/json, text/event-stream' },
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    if (answer.status !== 200) return undefined;
    const tools = (JSON.parse(answer.text) as { result?: { tools?: unknown } } | null)?.result?.tools;
    if (!Array.isArray(tools)) return undefined;
    return tools.some((tool) => (tool as { name?: unknown } | null)?.name === WRITE_TOOL) ? ['keys:write'] : ['keys:read'];
  } catch {
    return undefined;
  }
}
