import type { Usage } from '../core/activity.js';
import { formatCount } from './format.js';
import { Table } from './layout.js';

const SERIES = [
  ['admitted', 'Admitted'],
  ['rate_limited', 'Rate-limited'],
  ['denied', 'Denied'],
] as const;

const WIDTH = 720;
const HEIGHT = 180;
const LEFT = 44;
const BOTTOM = 22;
const TOP = 8;

type Bucket = Usage['buckets'][number];

function bucketLabel(start: string, granularity: 'hour' | 'day'): string {
  return granularity === 'hour' ? `${start.slice(5, 10)} ${start.slice(11, 16)}` : start.slice(0, 10);
}

/** The largest count a bar reaches, rounded up to a number an axis reads well (1, 2, 5 × 10ⁿ). */
function niceMax(n: number): number {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

/**
 * Stacked bars of admitted, rate-limited and denied requests per bucket, drawn on the server as SVG
 * (no script, no library). Each bar names its numbers in a tooltip; the totals are written beside the
 * chart and every non-empty bucket in a table, so no number is only a picture.
 */
export function UsageChart({ id, title, usage, granularity }: { id: string; title: string; usage: Usage; granularity: 'hour' | 'day' }) {
  const { buckets, totals } = usage;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.admitted + b.rate_limited + b.denied)));
  const plotWidth = WIDTH - LEFT;
  const plotHeight = HEIGHT - BOTTOM - TOP;
  const step = plotWidth / Math.max(1, buckets.length);
  const gap = step > 4 ? 1 : 0;
  const y = (n: number) => (n / max) * plotHeight;
  const ticks = buckets.length === 0 ? [] : [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1];
  const nonEmpty = buckets.filter((b) => b.admitted + b.rate_limited + b.denied > 0);
  const summary = `${title}: ${formatCount(totals.admitted)} admitted, ${formatCount(totals.rate_limited)} rate-limited, ${formatCount(totals.denied)} denied`;
  return (
    <figure class="chart" id={id} data-granularity={granularity}>
      <figcaption>
        <strong>{title}</strong>
        <div class="legend">
          {SERIES.map(([name, label]) => (
            <span>
              <span class={`swatch ${name}`}></span>
              {label} <strong data-total={name}>{formatCount(totals[name])}</strong>
            </span>
          ))}
        </div>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary}>
        <line class="axis" x1={LEFT} y1={TOP + plotHeight} x2={WIDTH} y2={TOP + plotHeight} />
        <line class="axis" x1={LEFT} y1={TOP} x2={WIDTH} y2={TOP} />
        <text x={LEFT - 6} y={TOP + 4} text-anchor="end">
          {formatCount(max)}
        </text>
        <text x={LEFT - 6} y={TOP + plotHeight} text-anchor="end">
          0
        </text>
        {buckets.map((bucket, i) => (
          <Bar bucket={bucket} x={LEFT + i * step + gap / 2} width={Math.max(0.5, step - gap)} base={TOP + plotHeight} y={y} granularity={granularity} />
        ))}
        {ticks.map((i, n) => (
          <text x={LEFT + i * step + step / 2} y={HEIGHT - 6} text-anchor={n === 0 ? 'start' : n === 2 ? 'end' : 'middle'}>
            {bucketLabel(buckets[i]!.start, granularity)}
          </text>
        ))}
      </svg>
      <details>
        <summary>{nonEmpty.length === 0 ? 'No requests in this span' : `As a table (${nonEmpty.length} ${granularity === 'hour' ? 'hours' : 'days'} with requests)`}</summary>
        {nonEmpty.length > 0 && (
          <Table head={[granularity === 'hour' ? 'Hour (UTC)' : 'Day (UTC)', ...SERIES.map(([, label]) => label)]} numericFrom={1}>
            {nonEmpty.map((b) => (
              <tr>
                <td>{bucketLabel(b.start, granularity)}</td>
                {SERIES.map(([name]) => (
                  <td class="num">{formatCount(b[name])}</td>
                ))}
              </tr>
            ))}
          </Table>
        )}
      </details>
    </figure>
  );
}

function Bar({ bucket, x, width, base, y, granularity }: { bucket: Bucket; x: number; width: number; base: number; y: (n: number) => number; granularity: 'hour' | 'day' }) {
  let top = base;
  const parts = SERIES.filter(([name]) => bucket[name] > 0).map(([name]) => {
    const height = y(bucket[name]);
    top -= height;
    return <rect class={name} x={x.toFixed(1)} y={top.toFixed(1)} width={width.toFixed(1)} height={height.toFixed(1)} />;
  });
  if (parts.length === 0) return null;
  return (
    <g>
      <title>{`${bucketLabel(bucket.start, granularity)}: ${bucket.admitted} admitted, ${bucket.rate_limited} rate-limited, ${bucket.denied} denied`}</title>
      {parts}
    </g>
  );
}
