// The objectscript.conn rule: point the InterSystems ObjectScript extension at the project's
// IRIS, unless the user pointed it somewhere else. Host, namespace and user come from the
// helper's status (the helper reads .iris-helper.json and applies the defaults; the extension
// does not parse the project file). Pure; no `vscode` import.
import type { Status } from './protocol';

/** objectscript.conn as the ObjectScript extension reads it (the fields this rule cares about). */
export interface ObjectScriptConn {
  active?: boolean;
  host?: string;
  port?: number;
  ns?: string;
  username?: string;
  server?: string;
  'docker-compose'?: unknown;
  [key: string]: unknown;
}

/** What the helper wrote last time for a folder (kept in workspaceState). */
export interface WrittenConn {
  host: string;
  port: number;
}

export type ConnDecision =
  | { action: 'write'; conn: ObjectScriptConn; written: WrittenConn }
  | { action: 'unchanged' }
  | { action: 'foreign'; reason: string }
  | { action: 'skip' };

/**
 * Decides what to do with a folder's objectscript.conn.
 * - off, or no web port known yet: skip.
 * - the user pointed it elsewhere (`server` or `docker-compose` set, or a host/port the
 *   helper did not write): foreign, leave it alone.
 * - already right: unchanged.
 * - else write active/host/port/ns/username from the status, keeping the user's other keys.
 *   Never a password.
 */
export function decideConn(opts: {
  enabled: boolean;
  status: Pick<Status, 'webPort' | 'host' | 'namespace' | 'username'>;
  current: ObjectScriptConn | undefined;
  written: WrittenConn | undefined;
}): ConnDecision {
  const { current, written, status } = opts;
  const webPort = status.webPort;
  if (!opts.enabled || !webPort) return { action: 'skip' };
  const cur: ObjectScriptConn = current && typeof current === 'object' && !Array.isArray(current) ? current : {};
  if (typeof cur.server === 'string' && cur.server !== '') {
    return { action: 'foreign', reason: `it uses the server "${cur.server}"` };
  }
  if (cur['docker-compose'] !== undefined) {
    return { action: 'foreign', reason: 'it uses docker-compose' };
  }
  const hasHost = cur.host !== undefined && cur.host !== '';
  const hasPort = cur.port !== undefined && cur.port !== null;
  const host = status.host;
  const desired: ObjectScriptConn = {
    ...cur,
    active: true,
    host,
    port: webPort,
    ns: status.namespace,
    username: status.username,
  };
  const ours = written !== undefined && cur.host === written.host && cur.port === written.port;
  const alreadyRight = cur.host === host && cur.port === webPort;
  if ((hasHost || hasPort) && !ours && !alreadyRight) {
    return { action: 'foreign', reason: `it points at ${hasHost ? String(cur.host) : '(no host)'}:${hasPort ? String(cur.port) : '(no port)'}` };
  }
  if (alreadyRight && cur.active === true && cur.ns === desired.ns && cur.username === desired.username) {
    return { action: 'unchanged' };
  }
  return { action: 'write', conn: desired, written: { host, port: webPort } };
}

/** The one notice (per folder and workspace) that objectscript.conn points elsewhere and is left alone. */
export function foreignConnMessage(folderName: string, reason: string, webPort: number): string {
  return `IRIS Helper left objectscript.conn of ${folderName} alone: ${reason}. ` +
    `This project's IRIS listens on web port ${webPort}. (Shown once; turn off irisHelper.updateObjectScriptConnection to stop checking.)`;
}
