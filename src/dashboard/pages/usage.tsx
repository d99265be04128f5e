import type { Hono } from 'hono';
import type { Child } from 'hono/jsx';
import type { Usage } from '../../core/activity.js';
import { UsageChart } from '../chart.js';
import { formatCount } from '../format.js';
import type { DashboardContext, DashboardEnv } from '../guard.js';
import { Layout, Problem, Table } from '../layout.js';
import { type DashboardDeps, problemOf, render, run } from '../page.js';
import { type KeyLabels, KeyLink, keyLabels } from './events.js';

const HOUR_MS = 3_600_000;

/** The two spans every usage view shows: each hour of the last 48, each day of the last 90 (or of the days usage is kept, if fewer). */
export async function usageSpans(c: DashboardContext, deps: DashboardDeps, keyId?: string): Promise<UsageSpans> {
  const now = deps.clock();
  const days = Math.min(90, deps.usageDays);
  const since = (ms: number) => new Date(now - ms).toISOString();
  const [hourly, daily] = await Promise.all([
    run(c, deps, 'getUsage', { key_id: keyId, granularity: 'hour', from: since(47 * HOUR_MS) }),
    run(c, deps, 'getUsage', { key_id: keyId, granularity: 'day', from: since((days - 1) * 24 * HOUR_MS) }),
  ]);
  return { hourly, daily, days };
}

export interface UsageSpans {
  hourly: Usage;
  daily: Usage;
  days: number;
}

/** Both spans' charts. */
export function UsageCharts({ usage, children }: { usage: UsageSpans; children?: (span: 'hourly' | 'daily') => Child }) {
  return (
    <>
      <UsageChart id="usage-hourly" title="Last 48 hours, by hour" usage={usage.hourly} granularity="hour" />
      {children?.('hourly')}
      <UsageChart id="usage-daily" title={`Last ${usage.days} days, by day`} usage={usage.daily} granularity="day" />
      {children?.('daily')}
    </>
  );
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
    const session = c.get('session');
    let page: Child;
    try {
      const usage = await usageSpans(c, deps);
      const labels = await keyLabels(c, deps, [...(usage.hourly.top_keys ?? []), ...(usage.daily.top_keys ?? [])].map((row) => row.key_id));
      page = (
        <UsageCharts usage={usage}>
          {(span) => {
            const caption = span === 'hourly' ? 'Top keys, last 48 hours' : `Top keys, last ${usage.days} days`;
            return (
              <>
                <h2>{caption}</h2>
                <TopKeys caption={caption} usage={usage[span]} labels={labels} />
              </>
            );
          }}
        </UsageCharts>
      );
    } catch (err) {
      const problem = problemOf(err);
      page = <Problem message={problem.message} issues={problem.issues} />;
    }
    return render(
      c,
      <Layout title="Usage" session={session} section="usage">
        <h1>Usage of the organization</h1>
        {page}
      </Layout>,
    );
  });
}
