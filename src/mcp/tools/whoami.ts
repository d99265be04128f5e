import { Whoami, WhoamiInput } from '../../core/schemas.js';
import { defineTool } from '../tool.js';

export const whoami = defineTool({
  name: 'whoami',
  title: 'Who am I',
  description:
    'Show the organization (id, name, plan) and the API key this assistant is using, with its limits: the hourly quota (limit, remaining, reset_at) and concurrent requests (limit, in_flight). Use it to check which key and environment you act as before changing keys, or how many requests are left. Needs only a valid key.',
  input: WhoamiInput,
  output: Whoami,
  annotations: { readOnlyHint: true, openWorldHint: false },
  call: (api, args) => api.whoami(args),
});
