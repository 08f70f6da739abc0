// Reading files that come from a project folder, which is untrusted input (issue 10, rule 3): an
// open never blocks (O_NONBLOCK: a FIFO named like a project file is refused, not waited on), never
// follows a planted link where the caller says so (O_NOFOLLOW), accepts only regular files (fstat
// after the open), and reads at most a limit. The extension's counterpart of the helper's
// workspace/projfile. No `vscode` import.
import * as fs from 'node:fs';

/** .iris-helper.json and .vscode/settings.json: 1 MiB, as the helper's projfile.ConfigLimit. */
export const configLimit = 1 << 20;

/** Whether the last element of a path may be a symbolic link. */
export type Follow = 'follow' | 'noFollow';

/** A project path names something other than a regular file (a directory, FIFO, device, or a refused link). */
export class NotRegularFileError extends Error {
  constructor(public readonly file: string, public readonly kind: string) {
    super(`${file} is ${kind}, not a regular file`);
    this.name = 'NotRegularFileError';
  }
}

/** A project file is larger than the extension reads. */
export class FileTooLargeError extends Error {
  constructor(public readonly file: string, public readonly size: number, public readonly limit: number) {
    super(`${file} is ${formatSize(size)}, more than the ${formatSize(limit)} IRIS Helper reads`);
    this.name = 'FileTooLargeError';
  }
}

/** Names a file type for people, in the helper's words (projfile.Describe). */
export function describeKind(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a device';
  if (st.isFile()) return 'a regular file';
  return 'an irregular file';
}

/** A byte count in the largest binary unit that keeps it readable ("1 MiB", "200.0 MiB"), as the helper's FormatSize. */
export function formatSize(n: number): string {
  const kib = 1 << 10;
  const mib = 1 << 20;
  const gib = 1 << 30;
  if (n >= gib) return n % gib === 0 ? `${n / gib} GiB` : `${(n / gib).toFixed(1)} GiB`;
  if (n >= mib) return n % mib === 0 ? `${n / mib} MiB` : `${(n / mib).toFixed(1)} MiB`;
  if (n >= kib && n % kib === 0) return `${n / kib} KiB`;
  return `${n} bytes`;
}

/** The open(2) flags for a project file: read-only, never blocking, no link in the last element unless follow. */
export function openFlags(follow: Follow, platform: NodeJS.Platform = process.platform): number {
  const c = fs.constants;
  if (platform === 'win32') return c.O_RDONLY; // no O_NONBLOCK/O_NOFOLLOW there: the regular-file check is what matters
  return c.O_RDONLY | (c.O_NONBLOCK ?? 0) | (follow === 'noFollow' ? (c.O_NOFOLLOW ?? 0) : 0);
}

/**
 * Reads a whole regular file of at most limit bytes as UTF-8; undefined when it does not exist.
 * A FIFO, socket, device or directory is a NotRegularFileError (never waited on), and so is a
 * symbolic link with noFollow; a larger file is a FileTooLargeError. The read stops at limit+1
 * bytes whatever the file claims, so a file that grows while it is read cannot make it allocate more.
 */
export async function readProjectFile(file: string, limit: number, follow: Follow): Promise<string | undefined> {
  if (follow === 'noFollow' && process.platform === 'win32') {
    const st = await lstatOrUndefined(file);
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) throw new NotRegularFileError(file, 'a symbolic link');
  }
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, openFlags(follow));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // O_NOFOLLOW on a link: ELOOP (EMLINK on some BSDs)
    if (follow === 'noFollow' && (code === 'ELOOP' || code === 'EMLINK')) throw new NotRegularFileError(file, 'a symbolic link');
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFileError(file, describeKind(st));
    if (st.size > limit) throw new FileTooLargeError(file, st.size, limit);
    const max = limit + 1;
    let buf = Buffer.allocUnsafe(Math.min(max, Math.max(st.size + 1, 512)));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length >= max) break;
        const next = Buffer.allocUnsafe(Math.min(max, buf.length * 2));
        buf.copy(next, 0, 0, n);
        buf = next;
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > limit) throw new FileTooLargeError(file, n, limit);
    return buf.toString('utf8', 0, n);
  } finally {
    await fh.close();
  }
}

async function lstatOrUndefined(file: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
