import { describe, expect, it } from 'vitest';
import { BaseUrlError, isLoopbackHost, parseBaseUrl, redactUrl } from './base-url.js';

describe('parseBaseUrl', () => {
  it('keeps a REST base as given, without a trailing slash', () => {
    expect(parseBaseUrl('http://127.0.0.1:8787/v1').href).toBe('http://127.0.0.1:8787/v1');
    expect(parseBaseUrl(' https://keys.example.com/dispersl/v1/ ').href).toBe('https://keys.example.com/dispersl/v1');
  });

  it('adds /v1 to a bare origin, where serve answers', () => {
    expect(parseBaseUrl('http://localhost:8787').href).toBe('http://localhost:8787/v1');
    expect(parseBaseUrl('http://[::1]:8787/').href).toBe('http://[::1]:8787/v1');
  });

  it.each([
    ['not a url', /must be a URL/],
    ['ftp://127.0.0.1/v1', /http:\/\/ or https:\/\//],
    ['http://user:pw@127.0.0.1/v1', /credentials/],
    ['http://127.0.0.1/v1?x=1', /no query/],
    ['http://127.0.0.1:8787/mcp', /not an MCP endpoint/],
    ['http://127.0.0.1:8787/mcp/readonly', /not an MCP endpoint/],
  ])('refuses %s', (raw, message) => {
    expect(() => parseBaseUrl(raw)).toThrow(BaseUrlError);
    expect(() => parseBaseUrl(raw)).toThrow(message);
  });

  it('refuses a key-in-path MCP URL without repeating the key', () => {
    const raw = 'http://127.0.0.1:8787/ot/pk_live_5b2cQk3Xh9mV0aLr7sT1uW4yZ8eN6pD2';
    let message = '';
    try {
      parseBaseUrl(raw);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/DISPERSL_API_KEY/);
    expect(message).not.toContain('5b2cQk3Xh9mV0aLr7sT1uW4yZ8eN6pD2');
  });

  it('cuts a key in an echoed value down to its prefix', () => {
    expect(redactUrl('x pk_test_abcDEF123 y')).toBe('x pk_test_… y');
  });
});

describe('isLoopbackHost', () => {
  it.each(['localhost', 'api.localhost', '127.0.0.1', '127.8.9.10', '[::1]', '::1', new URL('http://[::ffff:127.0.0.1]').hostname])(
    'treats %s as this machine',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );

  it.each(['example.com', '10.0.0.1', '192.168.1.2', '[2001:db8::1]', '0.0.0.0', 'localhost.example.com', '128.0.0.1'])(
    'treats %s as another machine',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});
