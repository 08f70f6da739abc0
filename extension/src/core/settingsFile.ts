// Reading and editing a folder's .vscode/settings.json (JSON with comments) without losing
// comments or formatting. Used for objectscript.conn, which VS Code's configuration API refuses
// to write unless the ObjectScript extension (which registers the key) is installed; the
// extension writes no setting through that API (a test checks it), only through this file.
//
// The folder comes from a repository (issue 10): `.vscode` or `settings.json` may be a planted
// link. The file is found by following the links (resolveLinks) and must stay inside the folder,
// else nothing is read or written (SettingsOutsideFolderError, naming the resolved path). It is
// read without blocking, regular files only, at most 1 MiB (readProjectFile), and a FIFO, device
// or directory named settings.json is never replaced. No `vscode` import.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits, modify, parse, type ParseError } from 'jsonc-parser';
import { isInside, resolveLinks } from './folderPath';
import { configLimit, describeKind, FileTooLargeError, NotRegularFileError, readProjectFile } from './projectFile';

/** Path of a folder's settings file, as named (before links are followed). */
export function folderSettingsPath(folderPath: string): string {
  return path.join(folderPath, '.vscode', 'settings.json');
}

/** Thrown when settings.json does not parse: the helper never rewrites a file it cannot read. */
export class SettingsParseError extends Error {
  constructor(public readonly file: string) {
    super(`${file} is not valid JSON; fix it, or set objectscript.conn yourself`);
    this.name = 'SettingsParseError';
  }
}

/** `.vscode` or `.vscode/settings.json` leads outside the folder (a symbolic link): nothing is read or written there. */
export class SettingsOutsideFolderError extends Error {
  constructor(public readonly file: string, public readonly resolved: string, public readonly folder: string) {
    super(`${file} leads to ${resolved}, outside the folder ${folder}`);
    this.name = 'SettingsOutsideFolderError';
  }
}

/** `.vscode` is something other than a folder (a file, a FIFO...). */
export class NotAFolderError extends Error {
  constructor(public readonly dir: string, public readonly kind: string) {
    super(`${dir} is ${kind}, not a folder`);
    this.name = 'NotAFolderError';
  }
}

/** Where a folder's settings file really is. */
export interface SettingsTarget {
  /** The folder's real path. */
  folder: string;
  /** The real path of `.vscode` (links followed) and whether it exists. */
  dir: string;
  dirExists: boolean;
  /** The real path of settings.json (links followed) and whether it exists. */
  file: string;
  exists: boolean;
}

/**
 * Follows `.vscode` and `settings.json` of a folder to where they lead. Refuses (throws) when
 * either leads outside the folder (SettingsOutsideFolderError), when `.vscode` is not a folder,
 * or when settings.json is not a regular file.
 */
export async function settingsTarget(folderPath: string): Promise<SettingsTarget> {
  const folder = await fs.promises.realpath(folderPath);
  const dirNamed = path.join(folderPath, '.vscode');
  const dir = await resolveLinks(path.join(folder, '.vscode'));
  if (!isInside(folder, dir.path)) throw new SettingsOutsideFolderError(dirNamed, dir.path, folder);
  if (dir.exists) {
    const st = await fs.promises.lstat(dir.path);
    if (!st.isDirectory()) throw new NotAFolderError(dirNamed, describeKind(st));
  }
  const named = folderSettingsPath(folderPath);
  const file = await resolveLinks(path.join(dir.path, 'settings.json'));
  if (!isInside(folder, file.path)) throw new SettingsOutsideFolderError(named, file.path, folder);
  if (file.exists) {
    const st = await fs.promises.lstat(file.path);
    if (!st.isFile()) throw new NotRegularFileError(named, describeKind(st));
  }
  return { folder, dir: dir.path, dirExists: dir.exists, file: file.path, exists: file.exists };
}

function parseObject(file: string, text: string): Record<string, unknown> {
  const errors: ParseError[] = [];
  const v = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v)))) {
    throw new SettingsParseError(file);
  }
  return (v ?? {}) as Record<string, unknown>;
}

async function readTarget(t: SettingsTarget): Promise<string | undefined> {
  // the real path: its last element is no link now (a link swapped in since is refused)
  return t.exists ? readProjectFile(t.file, configLimit, 'noFollow') : undefined;
}

/** The value of a top-level key in a folder's settings file; undefined when the file or key is missing. */
export async function readSetting(folderPath: string, key: string): Promise<unknown> {
  const t = await settingsTarget(folderPath);
  const text = await readTarget(t);
  if (text === undefined || text.trim() === '') return undefined;
  return parseObject(t.file, text)[key];
}

/**
 * Sets a top-level key in a folder's settings file, keeping comments and the file's indentation
 * and mode; creates `.vscode` and the file when missing. The new text goes to a temporary file
 * beside the real settings.json (created exclusively, never through a link) and is renamed onto it.
 */
export async function writeSetting(folderPath: string, key: string, value: unknown): Promise<void> {
  const t = await settingsTarget(folderPath);
  const existing = await readTarget(t);
  let text = existing === undefined || existing.trim() === '' ? '{}\n' : existing;
  parseObject(t.file, text);
  const tabs = /^\t/m.test(text);
  const spaces = /^( +)"/m.exec(text)?.[1].length ?? 4;
  const edits = modify(text, [key], value, {
    formattingOptions: { insertSpaces: !tabs, tabSize: tabs ? 1 : spaces, eol: text.includes('\r\n') ? '\r\n' : '\n' },
  });
  text = applyEdits(text, edits);
  if (!t.dirExists) {
    // below the folder's real path, the missing part holds no link
    await fs.promises.mkdir(t.dir, { recursive: true });
    if ((await fs.promises.realpath(t.dir)) !== t.dir) throw new SettingsOutsideFolderError(path.join(folderPath, '.vscode'), await fs.promises.realpath(t.dir), t.folder);
  }
  const mode = t.exists ? (await fs.promises.lstat(t.file)).mode & 0o7777 : undefined;
  const tmp = path.join(path.dirname(t.file), `${path.basename(t.file)}.iris-helper-${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`);
  const c = fs.constants;
  const fh = await fs.promises.open(tmp, c.O_WRONLY | c.O_CREAT | c.O_EXCL | (c.O_NOFOLLOW ?? 0), 0o666);
  try {
    try {
      await fh.writeFile(text, 'utf8');
      if (mode !== undefined) await fh.chmod(mode);
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, t.file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The one warning for a settings file the extension refuses to touch (a link out of the folder, a
 * `.vscode` that is no folder, a settings.json that is no regular file or too large); undefined for
 * any other error.
 */
export function refusedSettingsMessage(folderName: string, webPort: number, err: unknown): string | undefined {
  if (!(err instanceof SettingsOutsideFolderError || err instanceof NotAFolderError || err instanceof NotRegularFileError || err instanceof FileTooLargeError)) {
    return undefined;
  }
  const why = err instanceof SettingsOutsideFolderError ? `${err.message}: IRIS Helper writes nothing there` : err.message;
  return `IRIS Helper left objectscript.conn of ${folderName} alone: ${why}. ` +
    `Point the ObjectScript extension at this project's IRIS yourself (web port ${webPort}), or turn off irisHelper.updateObjectScriptConnection.`;
}
