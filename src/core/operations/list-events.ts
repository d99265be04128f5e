import { EventList, ListEventsInput } from '../activity.js';
import { defineOperation } from '../operation.js';

export const listEvents = defineOperation({
  input: ListEventsInput,
  output: EventList,
  permission: 'keys:read',
  write: false,
  tool: {
    name: 'list_events',
    title: 'List audit events',
    description:
      'The audit trail of your organization, newest first: every key created, revoked, rotated, updated, disabled or enabled, with the key that did it (actor_key_id) and when. Filter by key_id or type; pass next_cursor back as cursor for older events. Use it to answer "who changed this key, and when?". Needs keys:read.',
  },
  rest: [
    {
      method: 'GET',
      path: '/v1/events',
      operationId: 'listEvents',
      summary: 'List audit events',
      description: 'The audit trail, newest first, a page at a time; filter by key_id and type.',
      query: { schema: ListEventsInput, numbers: ['limit'] },
      status: 200,
      response: EventList,
    },
  ],
  run: (service, caller, args) => service.events(caller, args),
});
