// The objectscript.conn rule: point the InterSystems ObjectScript extension at the project's
// IRIS, in whichever form the folder's conn already has (issue 12 §8), unless the user pointed it
// somewhere else. Host, namespace and user come from the helper's status (the helper reads
// .iris-helper.json and applies the defaults; the extension does not parse the project file).
// *When* a conn is written (only once IRIS is ready, one nudge per ready transition) is
// core/connNudge's. Pure; no `vscode` import.
import type { Status } from './protocol';

/** objectscript.conn as the ObjectScript extension reads it (the fields this rule cares about). */
export interface ObjectScriptConn {
  active?: boolean;
  host?: string;
  port?: number;
  ns?: string;
  username?: string;
  password?: string;
  server?: string;
  'docker-compose'?: unknown;
  [key: string]: unknown;
}

/** What the helper wrote last time for a folder (kept in workspaceState). */
export interface WrittenConn {
  host: string;
  port: number;
}

/** IRIS's web port inside its container. */
export const irisWebContainerPort = 52773;

/**
 * The host port the compose file pins for the IRIS service's web port (`52773:52773` → 52773),
 * 0 when it pins none (random, or not a compose project).
 */
export function pinnedWebPort(s: Partial<Pick<Status, 'irisService' | 'ports'>>): number {
  const p = (s.ports ?? []).find((x) => x.service === (s.irisService ?? '') && x.containerPort === irisWebContainerPort);
  return p?.pinnedHostPort ?? 0;
}

export type ConnStatus = Pick<Status, 'webPort' | 'host' | 'namespace' | 'username'> & Partial<Pick<Status, 'irisService' | 'ports'>>;

/** The form the folder's conn has, as issue 12 §8 names them. */
export type ConnForm = 'none' | 'hostPort' | 'pinned' | 'compose';

export type ConnDecision =
  /** notice: the conn pointed at the compose file's pinned port and now at the registry's (tell the user once). */
  | { action: 'write'; form: ConnForm; conn: ObjectScriptConn; written: WrittenConn; moved: boolean; notice?: { from: number } }
  | { action: 'unchanged'; form: ConnForm }
  /** `server` names a Server Manager definition that is not iris-helper's: never edited. */
  | { action: 'server'; server: string }
  | { action: 'foreign'; reason: string }
  | { action: 'skip' };

function isConnObject(v: unknown): v is ObjectScriptConn {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The keys whose change makes a write (the ones this rule sets). */
const ruleKeys = ['active', 'host', 'port', 'ns', 'username', 'server'] as const;

/**
 * Decides what a folder's objectscript.conn should be.
 * - off, or no web port known yet: skip.
 * - `server` naming a definition iris-helper did not create (isOurServer false): server, never edited.
 * - a `docker-compose` object: kept, with host/port (the registry's web port) beside it.
 * - host/port equal to the compose file's pinned web port: moved to the registry's port (notice).
 * - host/port the helper wrote before, or already right, or none: host/port/ns/username from the status.
 * - any other host/port: foreign, left alone.
 * Without a password of its own the conn names credentialServer (iris-helper's Server Manager
 * definition) when one is given. Never a password. active is always true in what is written.
 */
export function decideConn(opts: {
  enabled: boolean;
  status: ConnStatus;
  current: ObjectScriptConn | undefined;
  written: WrittenConn | undefined;
  /** true for a Server Manager definition iris-helper created (recorded in vscode-servers.json) */
  isOurServer?: (name: string) => boolean;
  /** the definition to name when the conn carries no password; undefined: none (Server Manager missing) */
  credentialServer?: string;
}): ConnDecision {
  const { written, status } = opts;
  const webPort = status.webPort;
  if (!opts.enabled || !webPort) return { action: 'skip' };
  const cur: ObjectScriptConn = isConnObject(opts.current) ? opts.current : {};
  const ours = opts.isOurServer ?? (() => false);
  const server = typeof cur.server === 'string' && cur.server !== '' ? cur.server : undefined;
  if (server !== undefined && !ours(server)) return { action: 'server', server };

  const host = status.host;
  const hasHost = cur.host !== undefined && cur.host !== '';
  const hasPort = cur.port !== undefined && cur.port !== null;
  const pinned = pinnedWebPort(status);
  let form: ConnForm;
  let desired: ObjectScriptConn;
  let notice: { from: number } | undefined;
  if (cur['docker-compose'] !== undefined) {
    // the user's object stays; host/port beside it serve remote extension hosts, and their change
    // makes desktop VS Code's compose lookup look again instead of using its cached port
    form = 'compose';
    desired = { ...cur, active: true, host, port: webPort, ns: cur.ns ?? status.namespace, username: cur.username ?? status.username };
  } else if (hasPort && pinned !== 0 && cur.port === pinned && webPort !== pinned) {
    // after a port move the compose file's fixed port may be another project's IRIS
    form = 'pinned';
    notice = { from: pinned };
    desired = { ...cur, active: true, host, port: webPort, ns: cur.ns ?? status.namespace, username: cur.username ?? status.username };
  } else {
    const wroteIt = written !== undefined && cur.host === written.host && cur.port === written.port;
    const alreadyRight = cur.host === host && cur.port === webPort;
    if ((hasHost || hasPort) && !wroteIt && !alreadyRight) {
      return { action: 'foreign', reason: `it points at ${hasHost ? String(cur.host) : '(no host)'}:${hasPort ? String(cur.port) : '(no port)'}` };
    }
    form = hasHost || hasPort ? 'hostPort' : 'none';
    desired = { ...cur, active: true, host, port: webPort, ns: status.namespace, username: status.username };
  }
  if (typeof cur.password !== 'string' && opts.credentialServer !== undefined) desired.server = opts.credentialServer;
  const moved = cur.host !== host || cur.port !== webPort;
  if (!moved && ruleKeys.every((k) => cur[k] === desired[k])) return { action: 'unchanged', form };
  return { action: 'write', form, conn: desired, written: { host, port: webPort }, moved, ...(notice ? { notice } : {}) };
}

/** The one notice (per folder and workspace) that objectscript.conn points elsewhere and is left alone. */
export function foreignConnMessage(folderName: string, reason: string, webPort: number): string {
  return `IRIS Helper left objectscript.conn of ${folderName} alone: ${reason}. ` +
    `This project's IRIS listens on web port ${webPort}. (Shown once; turn off irisHelper.updateObjectScriptConnection to stop checking.)`;
}

/** The one notice that a conn on the compose file's fixed web port was moved to the project's port on this machine. */
export function pinnedMovedMessage(folderName: string, from: number, to: number): string {
  return `IRIS Helper moved objectscript.conn of ${folderName} from port ${from} (the compose file's fixed web port) to ${to}, ` +
    `the port this project's IRIS has on this machine; ${from} may be another project's IRIS. (Shown once.)`;
}

/** The conn the "use this project's port" command writes: the user's `server` replaced by host/port. */
export function projectPortConn(current: ObjectScriptConn | undefined, status: ConnStatus): ObjectScriptConn {
  const { server: _server, ...rest } = isConnObject(current) ? current : {};
  return { ...rest, active: true, host: status.host, port: status.webPort, ns: status.namespace, username: status.username };
}
