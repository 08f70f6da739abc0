// The Server Manager definitions IRIS Helper created (issue 13 §3): their names, in
// $IRIS_HELPER_HOME/vscode-servers.json (mode 0600; the home is IRIS_HELPER_HOME, else
// ~/.iris-helper, as the helper computes it). Only a definition recorded here is ever updated; any
// other `intersystems.servers` entry is the user's. The definition's shape and name are here too.
// No `vscode` import.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const recordFileName = 'vscode-servers.json';

/** The helper's home: $IRIS_HELPER_HOME (made absolute), else ~/.iris-helper (registry.DefaultHome). */
export function helperHome(env: NodeJS.ProcessEnv = process.env, homedir = os.homedir()): string {
  const h = env.IRIS_HELPER_HOME;
  return h ? path.resolve(h) : path.join(homedir, '.iris-helper');
}

export interface ServerRecord {
  /** definition name -> the project root it serves */
  servers: Record<string, { project: string }>;
}

/** The recorded definitions; an empty record when the file is missing or unreadable. */
export function readServerRecord(home: string): ServerRecord {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(home, recordFileName), 'utf8')) as ServerRecord;
    if (v && typeof v.servers === 'object' && v.servers !== null && !Array.isArray(v.servers)) return { servers: v.servers };
  } catch {
    // missing or damaged: nothing is ours
  }
  return { servers: {} };
}

/** Records a definition as iris-helper's (the file rewritten whole, mode 0600, the home 0700 when created). */
export function recordServer(home: string, name: string, project: string): void {
  const rec = readServerRecord(home);
  if (rec.servers[name]?.project === project) return;
  rec.servers[name] = { project };
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = path.join(home, recordFileName);
  const tmp = `${file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** The definition's name for a project: iris-helper-<folder>-<8 hex of the root's SHA-256>. */
export function serverName(folderName: string, projectRoot: string): string {
  const slug = folderName.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'project';
  return `iris-helper-${slug}-${crypto.createHash('sha256').update(projectRoot).digest('hex').slice(0, 8)}`;
}

/** The default development accounts' password of InterSystems' images (issue 13 §3). */
export const defaultPassword = 'SYS';

/** An `intersystems.servers` entry as Server Manager reads it. */
export interface ServerDefinition {
  webServer: { scheme: string; host: string; port: number; pathPrefix?: string };
  username?: string;
  password?: string;
  description?: string;
  [key: string]: unknown;
}

export function serverDefinition(host: string, port: number, username: string, projectRoot: string, password = defaultPassword): ServerDefinition {
  return { webServer: { scheme: 'http', host, port }, username, password, description: `iris-helper: ${projectRoot}` };
}

/**
 * The password of the project's instance: the one the helper gave it when the user published it on
 * a non-loopback address ($IRIS_HELPER_HOME/credentials/<8 hex of the root>.json, mode 0600,
 * workspace/credentials.go; read only when it is a regular file of at most 64 KiB), else the
 * default SYS. Never sent to the helper, never logged.
 */
export function instancePassword(home: string, projectRoot: string): string {
  const file = path.join(home, 'credentials', crypto.createHash('sha256').update(projectRoot).digest('hex').slice(0, 8) + '.json');
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size > 64 * 1024) return defaultPassword;
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as { project?: unknown; password?: unknown };
    if (v.project === projectRoot && typeof v.password === 'string' && v.password !== '') return v.password;
  } catch {
    // none: the default
  }
  return defaultPassword;
}

/** Whether an existing definition already says what def says (no settings write needed). */
export function sameDefinition(a: unknown, b: ServerDefinition): boolean {
  const x = a as ServerDefinition | undefined;
  return !!x && x.webServer?.scheme === b.webServer.scheme && x.webServer?.host === b.webServer.host && x.webServer?.port === b.webServer.port &&
    x.username === b.username && x.password === b.password && x.description === b.description;
}
