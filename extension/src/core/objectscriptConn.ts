// The objectscript.conn rule: point the InterSystems ObjectScript extension at the project's
// IRIS, unless the user pointed it somewhere else. Pure but for readProjectIrisSettings, which
// reads the project file; no `vscode` import.
import * as path from 'node:path';
import { errorText } from './messages';
import { configLimit, readProjectFile } from './projectFile';

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

/** Namespace and username from .iris-helper.json ("iris": {"namespace", "username"}). */
export interface ProjectIrisSettings {
  namespace?: string;
  username?: string;
}

export const defaultNamespace = 'USER';
export const defaultUsername = '_SYSTEM';

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
 * - else write active/host/port/ns/username, keeping the user's other keys. Never a password.
 */
export function decideConn(opts: {
  enabled: boolean;
  webPort: number;
  current: ObjectScriptConn | undefined;
  written: WrittenConn | undefined;
  project: ProjectIrisSettings;
}): ConnDecision {
  const { current, written } = opts;
  if (!opts.enabled || !opts.webPort) return { action: 'skip' };
  const cur: ObjectScriptConn = current && typeof current === 'object' && !Array.isArray(current) ? current : {};
  if (typeof cur.server === 'string' && cur.server !== '') {
    return { action: 'foreign', reason: `it uses the server "${cur.server}"` };
  }
  if (cur['docker-compose'] !== undefined) {
    return { action: 'foreign', reason: 'it uses docker-compose' };
  }
  const hasHost = cur.host !== undefined && cur.host !== '';
  const hasPort = cur.port !== undefined && cur.port !== null;
  const host = 'localhost';
  const desired: ObjectScriptConn = {
    ...cur,
    active: true,
    host,
    port: opts.webPort,
    ns: nonEmpty(opts.project.namespace) ?? nonEmpty(cur.ns) ?? defaultNamespace,
    username: nonEmpty(opts.project.username) ?? nonEmpty(cur.username) ?? defaultUsername,
  };
  const ours = written !== undefined && cur.host === written.host && cur.port === written.port;
  const alreadyRight = cur.host === host && cur.port === opts.webPort;
  if ((hasHost || hasPort) && !ours && !alreadyRight) {
    return { action: 'foreign', reason: `it points at ${hasHost ? String(cur.host) : '(no host)'}:${hasPort ? String(cur.port) : '(no port)'}` };
  }
  if (alreadyRight && cur.active === true && cur.ns === desired.ns && cur.username === desired.username) {
    return { action: 'unchanged' };
  }
  return { action: 'write', conn: desired, written: { host, port: opts.webPort } };
}

/** The one notice (per folder and workspace) that objectscript.conn points elsewhere and is left alone. */
export function foreignConnMessage(folderName: string, reason: string, webPort: number): string {
  return `IRIS Helper left objectscript.conn of ${folderName} alone: ${reason}. ` +
    `This project's IRIS listens on web port ${webPort}. (Shown once; turn off irisHelper.updateObjectScriptConnection to stop checking.)`;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** Reads "iris": {"namespace", "username"} from the text of a .iris-helper.json; {} when absent or invalid. */
export function parseProjectIrisSettings(text: string | undefined): ProjectIrisSettings {
  if (!text) return {};
  try {
    const doc = JSON.parse(text) as { iris?: { namespace?: unknown; username?: unknown } };
    const iris = doc && typeof doc === 'object' ? doc.iris : undefined;
    if (!iris || typeof iris !== 'object') return {};
    return {
      namespace: typeof iris.namespace === 'string' ? iris.namespace : undefined,
      username: typeof iris.username === 'string' ? iris.username : undefined,
    };
  } catch {
    return {};
  }
}

/**
 * iris.namespace and iris.username of a project's .iris-helper.json; {} when it has none, and {}
 * after a warning when it cannot be read (the helper reports a bad project file itself; here only
 * the default namespace and user are lost).
 */
export async function readProjectIrisSettings(projectDir: string, warn: (message: string) => void): Promise<ProjectIrisSettings> {
  const file = path.join(projectDir, '.iris-helper.json');
  try {
    return parseProjectIrisSettings(await readProjectFile(file, configLimit, 'follow'));
  } catch (err) {
    warn(`${errorText(err)}; using the default namespace and user`);
    return {};
  }
}
