// Reading and editing a folder's .vscode/settings.json (JSON with comments) without losing
// comments or formatting. Used for objectscript.conn, which VS Code's configuration API refuses
// to write unless the ObjectScript extension (which registers the key) is installed.
// No `vscode` import.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { applyEdits, modify, parse, type ParseError } from 'jsonc-parser';

/** Path of a folder's settings file. */
export function folderSettingsPath(folderPath: string): string {
  return path.join(folderPath, '.vscode', 'settings.json');
}

/** Thrown when settings.json does not parse: the helper never rewrites a file it cannot read. */
export class SettingsParseError extends Error {
  constructor(public readonly file: string) {
    super(`${file} is not valid JSON; fix it, or set objectscript.conn yourself`);
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parseObject(file: string, text: string): Record<string, unknown> {
  const errors: ParseError[] = [];
  const v = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v)))) {
    throw new SettingsParseError(file);
  }
  return (v ?? {}) as Record<string, unknown>;
}

/** The value of a top-level key in a settings file; undefined when the file or key is missing. */
export async function readSetting(file: string, key: string): Promise<unknown> {
  const text = await readText(file);
  if (text === undefined || text.trim() === '') return undefined;
  return parseObject(file, text)[key];
}

/** Sets a top-level key, keeping comments and the file's indentation; creates the file when missing. */
export async function writeSetting(file: string, key: string, value: unknown): Promise<void> {
  const existing = await readText(file);
  let text = existing === undefined || existing.trim() === '' ? '{}\n' : existing;
  parseObject(file, text);
  const tabs = /^\t/m.test(text);
  const spaces = /^( +)"/m.exec(text)?.[1].length ?? 4;
  const edits = modify(text, [key], value, {
    formattingOptions: { insertSpaces: !tabs, tabSize: tabs ? 1 : spaces, eol: text.includes('\r\n') ? '\r\n' : '\n' },
  });
  text = applyEdits(text, edits);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text, 'utf8');
  await fs.rename(tmp, file);
}
