// IRIS Helper's own probe of /api/atelier/ with the credentials the ObjectScript extension uses, to
// say why it is not connected: HEAD with Basic auth (401 → unauthorized), then GET with the
// session cookie and no Authorization header, as the ObjectScript extension does. The password is
// only sent to the project's IRIS; it is never logged. No `vscode` import.
import * as http from 'node:http';
import { classifyRequestError, classifyServerInfo, type ProbeResult } from './objectscriptStatus';

export interface ProbeTarget {
  host: string;
  port: number;
  username: string;
  /** undefined: no password known (the probe then sends the username with an empty one) */
  password?: string;
  namespace: string;
}

export const probeTimeoutMs = 5000;

/**
 * The address to probe for a status: its bind address when that is one address (127.0.0.1 is
 * what "localhost" means there, and Node may resolve localhost to ::1 first, where nothing is
 * published), else (a wildcard, or none) its host.
 */
export function probeHost(s: { host: string; bindAddress: string }): string {
  const b = s.bindAddress.trim();
  return b === '' || b === '0.0.0.0' || b === '::' || b === '[::]' ? s.host : b.replace(/^\[|\]$/g, '');
}

export interface Answer {
  status: number;
  cookies: string[];
  body: string;
}

/** One HTTP request to /api/atelier/ of t (the probe's only I/O; a test passes its own). */
export type Transport = (t: ProbeTarget, method: 'HEAD' | 'GET', headers: Record<string, string>, signal: AbortSignal) => Promise<Answer>;

function request(t: ProbeTarget, method: 'HEAD' | 'GET', headers: Record<string, string>, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: t.host, port: t.port, method, path: '/api/atelier/', headers: { Accept: 'application/json', ...headers }, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1 << 20) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cookies: (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Probes the Atelier API of t; never throws. */
export async function probeAtelier(t: ProbeTarget, timeoutMs = probeTimeoutMs, send: Transport = request): Promise<ProbeResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  const auth = 'Basic ' + Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64');
  try {
    const head = await send(t, 'HEAD', { Authorization: auth }, signal);
    if (head.status === 401) return { kind: 'unauthorized', username: t.username, hadPassword: t.password !== undefined };
    if (head.status >= 400) return { kind: 'not-iris', detail: `HEAD /api/atelier/ answered ${head.status}` };
    const get = await send(t, 'GET', head.cookies.length ? { Cookie: head.cookies.join('; ') } : { Authorization: auth }, signal);
    if (get.status === 401) return { kind: 'unauthorized', username: t.username, hadPassword: t.password !== undefined };
    let body: unknown;
    try {
      body = JSON.parse(get.body);
    } catch {
      return { kind: 'not-iris', detail: `GET /api/atelier/ answered ${get.status} without JSON` };
    }
    return classifyServerInfo(body, t.namespace);
  } catch (err) {
    return classifyRequestError(err, t.host, t.port, timeoutMs);
  }
}
