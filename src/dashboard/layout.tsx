import type { Child } from 'hono/jsx';
import type { Session } from '../core/sessions.js';
import { ASSETS } from './assets.js';

export type Section = 'keys' | 'usage' | 'events';

export interface LayoutProps {
  title: string;
  /** Absent on the sign-in page. */
  session?: Session | undefined;
  section?: Section | undefined;
  children?: Child;
}

const NAV: ReadonlyArray<[Section, string, string]> = [
  ['keys', 'Keys', '/dashboard'],
  ['usage', 'Usage', '/dashboard/usage'],
  ['events', 'Events', '/dashboard/events'],
];

/** The page shell: one stylesheet, one deferred script, nothing from anywhere else. */
export function Layout({ title, session, section, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{`${title} · dispersl`}</title>
        <link rel="icon" href={ASSETS.icon.path} type="image/svg+xml" />
        <link rel="stylesheet" href={ASSETS.style.path} />
        <script src={ASSETS.script.path} defer></script>
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/dashboard">
            dispersl
          </a>
          {session && (
            <>
              <nav aria-label="Main">
                {NAV.map(([name, label, href]) => (
                  <a href={href} aria-current={name === section ? 'page' : undefined}>
                    {label}
                  </a>
                ))}
              </nav>
              <div class="who">
                <span>
                  {session.caller.org.name} · signed in with <span class="mono">{session.caller.key.start}…</span> ({session.caller.key.name})
                </span>
                <form method="post" action="/dashboard/sign-out">
                  <input type="hidden" name="csrf" value={session.csrf} />
                  <button type="submit" class="link-button">
                    Sign out
                  </button>
                </form>
              </div>
            </>
          )}
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}

/** The outcome of a form, shown at the top of the page it leads to. */
export function Problem({ message, issues }: { message: string; issues?: ReadonlyArray<{ path: string; message: string }> | undefined }) {
  return (
    <div class="error" role="alert">
      {message}
      {issues && issues.length > 0 && (
        <ul>
          {issues.map((issue) => (
            <li>{issue.path ? `${issue.path}: ${issue.message}` : issue.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A table with a header row; columns from `numericFrom` on hold numbers (right-aligned). */
export function Table({ head, numericFrom = head.length, caption, class: className, children }: { head: readonly string[]; numericFrom?: number; caption?: string; class?: string; children?: Child }) {
  return (
    <table class={className}>
      {caption && <caption class="sr-only">{caption}</caption>}
      <thead>
        <tr>
          {head.map((label, i) => (
            <th scope="col" class={i >= numericFrom ? 'num' : undefined}>
              {label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/** The link to a list's next page: the same filters, and the cursor the last page ended with. */
export function Pager({ path, query, cursor, label }: { path: string; query: URLSearchParams; cursor: string | null; label: string }) {
  if (cursor === null) return null;
  const next = new URLSearchParams(query);
  next.set('cursor', cursor);
  return (
    <p class="pager">
      <a href={`${path}?${next.toString()}`}>{label}</a>
    </p>
  );
}

/** A select of [value, label] options, the one equal to `value` selected. */
export function Select({ id, name, options, value }: { id: string; name: string; options: ReadonlyArray<readonly [string, string]>; value: string }) {
  return (
    <select id={id} name={name}>
      {options.map(([option, label]) => (
        <option value={option} selected={option === value}>
          {label}
        </option>
      ))}
    </select>
  );
}

/** A list's filters: a search form sent by GET, so a filtered view is a link. */
export function FilterForm({ action, label, children }: { action: string; label: string; children?: Child }) {
  return (
    <form class="filters" method="get" action={action} role="search" aria-label={label}>
      {children}
      <button type="submit" class="secondary">
        Filter
      </button>
    </form>
  );
}
