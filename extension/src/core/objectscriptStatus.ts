// "Is the ObjectScript extension connected to this project's IRIS?" (issue 13 §4): what its API
// says (serverForUri: active, host, port, username, namespace — no failure reason) and, for the
// reason, IRIS Helper's own probe of /api/atelier/ with the same credentials. The probe's HTTP
// part is atelierProbe.ts; here its outcome and the one line the tooltip and Show Ports show.
// No `vscode` import.

/** The ObjectScript extension's id. */
export const objectScriptExtensionId = 'intersystems-community.vscode-objectscript';
/** Server Manager's id (it registers intersystems.servers; the ObjectScript extension depends on it). */
export const serverManagerExtensionId = 'intersystems-community.servermanager';

/** What `exports.serverForUri(uri)` / `asyncServerForUri(uri)` return (the fields used here). */
export interface ServerForUri {
  serverName?: string;
  active?: boolean;
  host?: string;
  port?: number;
  username?: string;
  namespace?: string;
  apiVersion?: number;
  serverVersion?: string;
}

/** The outcome of a probe of /api/atelier/ (HEAD with Basic auth, then GET with the cookie). */
export type ProbeResult =
  | { kind: 'ok'; version: string; namespaces: string[] }
  | { kind: 'unauthorized'; username: string; hadPassword: boolean }
  | { kind: 'refused'; host: string; port: number }
  | { kind: 'timeout'; host: string; port: number; ms: number }
  | { kind: 'namespace-missing'; namespace: string; namespaces: string[] }
  | { kind: 'not-iris'; detail: string }
  | { kind: 'error'; detail: string };

/** The server-info body of GET /api/atelier/ -> ok, not IRIS, or namespace missing. */
export function classifyServerInfo(body: unknown, namespace: string): ProbeResult {
  const b = body as { status?: { summary?: unknown }; result?: { content?: { api?: unknown; version?: unknown; namespaces?: unknown } } } | undefined;
  const c = b?.result?.content;
  if (!c || typeof c.api !== 'number' || c.api <= 0 || typeof c.version !== 'string' || !Array.isArray(c.namespaces)) {
    return { kind: 'not-iris', detail: 'GET /api/atelier/ did not answer with IRIS server information' };
  }
  if (typeof b?.status?.summary === 'string' && b.status.summary !== '') return { kind: 'error', detail: b.status.summary };
  const namespaces = c.namespaces.filter((n): n is string => typeof n === 'string');
  if (!namespaces.includes(namespace.toUpperCase())) return { kind: 'namespace-missing', namespace: namespace.toUpperCase(), namespaces };
  return { kind: 'ok', version: c.version, namespaces };
}

/** A failed request -> refused, timeout or error. */
export function classifyRequestError(err: unknown, host: string, port: number, ms: number): ProbeResult {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return { kind: 'refused', host, port };
  if (code === 'ETIMEDOUT' || code === 'ABORT_ERR' || (err as Error | undefined)?.name === 'TimeoutError') return { kind: 'timeout', host, port, ms };
  return { kind: 'error', detail: err instanceof Error ? err.message : String(err) };
}

export interface ObjectScriptViewInput {
  /** The ObjectScript extension is installed. */
  installed: boolean;
  /** What its API says for the folder; undefined before it answered. */
  api?: ServerForUri;
  /** The latest probe with the conn's credentials; undefined before one ended. */
  probe?: ProbeResult;
  /** The project's host and web port. */
  host: string;
  webPort: number;
  /** Why a conn that is off stays off (core/connNudge offReasonText), when it does. */
  offText?: string;
}

/** The ObjectScript line: connected only for "connected as"; retry when a Retry action makes sense (installed). */
export interface ObjectScriptLine {
  text: string;
  connected: boolean;
  retry: boolean;
}

/** One line for the tooltip and Show Ports. */
export function objectScriptLine(v: ObjectScriptViewInput): ObjectScriptLine {
  const no = (why: string) => ({ text: `ObjectScript: not connected — ${why}`, connected: false, retry: true });
  if (!v.installed) return { text: 'ObjectScript: the InterSystems ObjectScript extension is not installed', connected: false, retry: false };
  const a = v.api;
  if (!a) return { text: 'ObjectScript: checking…', connected: false, retry: true };
  if (a.port !== undefined && a.port !== v.webPort) {
    return no(`it uses ${a.host ?? '(no host)'}:${a.port}, not this project's web port ${v.webPort}`);
  }
  const p = v.probe;
  if (p && p.kind !== 'ok') return no(probeWords(p));
  if (a.active !== true) return no(v.offText ?? 'objectscript.conn is off ("active": false)');
  if (!p) return { text: 'ObjectScript: checking…', connected: false, retry: true };
  return { text: `ObjectScript: connected as ${a.username ?? '(no user)'} to ${a.namespace ?? '(no namespace)'}`, connected: true, retry: false };
}

function probeWords(p: Exclude<ProbeResult, { kind: 'ok' }>): string {
  switch (p.kind) {
    case 'unauthorized':
      return `IRIS answered 401 for ${p.username} (${p.hadPassword ? 'wrong password' : 'no password in objectscript.conn or its server definition'})`;
    case 'refused':
      return `nothing answers on ${p.host}:${p.port} (connection refused)`;
    case 'timeout':
      return `IRIS did not answer /api/atelier/ on ${p.host}:${p.port} within ${p.ms / 1000} s`;
    case 'namespace-missing':
      return `IRIS has no namespace ${p.namespace} (it has ${p.namespaces.join(', ') || 'none'})`;
    case 'not-iris':
    case 'error':
      return p.detail;
  }
}

/** The one notice (per workspace) that the ObjectScript extension is not installed. */
export const notInstalledMessage =
  'IRIS Helper: the InterSystems ObjectScript extension is not installed. objectscript.conn is kept pointing at this project\'s IRIS for when you install it. (Shown once per workspace.)';
