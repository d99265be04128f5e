import { GetUsageInput, Usage } from '../activity.js';
import { defineOperation } from '../operation.js';

export const getUsage = defineOperation({
  input: GetUsageInput,
  output: Usage,
  permission: 'keys:read',
  write: false,
  tool: {
    name: 'get_usage',
    title: 'Usage over time',
    description:
      "Requests over time, in hourly or daily buckets: admitted, rate_limited (quota, own rate limit or concurrency) and denied (revoked, disabled, expired, IP or permission). For one key with key_id, or the whole organization with its top keys. Default span: the last 24 hours by hour, 30 days by day; usage is kept 90 days. Use it to see which key is busy, which hits its limits, or whether a key is still used before revoking it. Needs keys:read.",
  },
  rest: [
    {
      method: 'GET',
      path: '/v1/usage',
      operationId: 'getUsage',
      summary: 'Usage over time',
      description: "Hourly or daily buckets of admitted, rate-limited and denied requests, for one key or the organization (with top_keys). Another organization's key answers 404.",
      query: { schema: GetUsageInput },
      status: 200,
      response: Usage,
    },
  ],
  run: (service, caller, args) => service.usage(caller, args),
});
