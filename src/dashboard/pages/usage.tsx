import type { Hono } from 'hono';
import type { Usage } from '../../core/activity.js';
import { UsageChart } from '../chart.js';
import { formatCount } from '../format.js';
import type { DashboardContext, DashboardEnv } from '../guard.js';
import { Layout, Table } from '../layout.js';
import { type DashboardDeps, render, run } from '../page.js';
import { type KeyLabels, KeyLink, keyLabels } from './events.js';

const HOUR_MS = 3_600_000;

/** The two spans every usage view shows: each hour of the last 48, each day of the last 90. */
export async function usageSpans(c: DashboardContext, deps: DashboardDeps, keyId?: string): Promise<{ hourly: Usage; daily: Usage }> {
  const now = deps.clock();
  const since = (ms: number) => new Date(now - ms).toISOString();
  const [hourly, daily] = await Promise.all([
    run(c, deps, 'getUsage', { key_id: keyId, granularity: 'hour', from: since(47 * HOUR_MS) }),
    run(c, deps, 'getUsage', { key_id: keyId, granularity: 'day', from: since(89 * 24 * HOUR_MS) }),
  ]);
  return { hourly, daily };
}

function TopKeys({ caption, usage, labels }: { caption: string; usage: Usage; labels: KeyLabels }) {
  const top = usage.top_keys ?? [];
  return (
    <Table class="top-keys" caption={caption} head={['Key', 'Admitted', 'Rate-limited', 'Denied']} numericFrom={1}>
      {top.length === 0 && (
        <tr>
          <td colspan={4} class="muted">
            No requests in this span.
          </td>
        </tr>
      )}
      {top.map((row) => (
        <tr>
          <td>
            <KeyLink id={row.key_id} labels={labels} />
          </td>
          <td class="num">{formatCount(row.admitted)}</td>
          <td class="num">{formatCount(row.rate_limited)}</td>
          <td class="num">{formatCount(row.denied)}</td>
        </tr>
      ))}
    </Table>
  );
}

export function usageRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  app.get('/usage', async (c) => {
    const { hourly, daily } = await usageSpans(c, deps);
    const labels = await keyLabels(c, deps, [...(hourly.top_keys ?? []), ...(daily.top_keys ?? [])].map((row) => row.key_id));
    return render(
      c,
      <Layout title="Usage" session={c.get('session')} section="usage">
        <h1>Usage of the organization</h1>
        <UsageChart id="usage-hourly" title="Last 48 hours, by hour" usage={hourly} granularity="hour" />
        <h2>Top keys, last 48 hours</h2>
        <TopKeys caption="Top keys, last 48 hours" usage={hourly} labels={labels} />
        <UsageChart id="usage-daily" title="Last 90 days, by day" usage={daily} granularity="day" />
        <h2>Top keys, last 90 days</h2>
        <TopKeys caption="Top keys, last 90 days" usage={daily} labels={labels} />
      </Layout>,
    );
  });
}
