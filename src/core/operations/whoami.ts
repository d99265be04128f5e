import { defineOperation } from '../operation.js';
import { Whoami, WhoamiInput } from '../schemas.js';

export const whoami = defineOperation({
  input: WhoamiInput,
  output: Whoami,
  permission: null,
  write: false,
  tool: {
    name: 'whoami',
    title: 'Who am I',
    description:
      'Show the organization (id, name, plan) and the API key this assistant is using, with its limits: the hourly quota (limit, remaining, reset_at) and concurrent requests (limit, in_flight). Use it to check which key and environment you act as before changing keys, or how many requests are left. Needs only a valid key.',
  },
  rest: [
    {
      method: 'GET',
      path: '/v1/me',
      operationId: 'whoami',
      summary: 'Who am I',
      description: 'The organization and key of the caller, with its limits: the hourly quota (after this request) and concurrent requests.',
      status: 200,
      response: Whoami,
    },
  ],
  run: (service, caller) => service.whoami(caller),
});
