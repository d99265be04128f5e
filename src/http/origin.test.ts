import { describe, expect, it } from 'vitest';
import { hostAllowed, hostnameOf, isLoopbackName, originAllowed } from './origin.js';

describe('Host and Origin checks', () => {
  it('knows loopback names, v4 and v6', () => {
    for (const name of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) expect(isLoopbackName(name), name).toBe(true);
    for (const name of ['example.com', '10.0.0.1', '0.0.0.0', '::', '[2001:db8::1]', 'localhost.evil.com', '127.0.0.1.nip.io']) expect(isLoopbackName(name), name).toBe(false);
  });

  it('takes the host name out of a Host header, with or without a port', () => {
    expect(hostnameOf('127.0.0.1:8787')).toBe('127.0.0.1');
    expect(hostnameOf('[::1]:8787')).toBe('[::1]');
    expect(hostnameOf('Example.COM')).toBe('example.com');
  });

  it('holds Host to loopback names only when bound to loopback', () => {
    expect(hostAllowed('localhost:8787', true)).toBe(true);
    expect(hostAllowed('evil.example:8787', true)).toBe(false);
    expect(hostAllowed('evil.example:8787', false)).toBe(true);
    expect(hostAllowed(undefined, true)).toBe(true);
  });

  it('accepts no Origin, loopback origins and the server’s own, and nothing else', () => {
    expect(originAllowed(undefined, 'x')).toBe(true);
    expect(originAllowed('http://localhost:3000', 'keys.example.com')).toBe(true);
    expect(originAllowed('https://keys.example.com', 'keys.example.com')).toBe(true);
    expect(originAllowed('https://keys.example.com:8443', 'keys.example.com')).toBe(false);
    expect(originAllowed('https://evil.example', 'keys.example.com')).toBe(false);
    expect(originAllowed('null', 'keys.example.com')).toBe(false);
    expect(originAllowed('chrome-extension://abc', 'localhost')).toBe(false);
    expect(originAllowed('not a url', undefined)).toBe(false);
  });
});
