// Where a path inside a project folder really leads, following symbolic links one component at a
// time (also through links whose target does not exist yet), so that a write the extension makes
// for a folder can be refused when a planted link (`.vscode -> ~/.config/...`) takes it outside
// (issue 10, rule 1). No `vscode` import.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The end of a path's link chain: the real path it names, and whether something is there. */
export interface Resolved {
  path: string;
  exists: boolean;
}

const maxLinks = 40; // Linux's MAXSYMLINKS

/**
 * Resolves an absolute path as the kernel would, following every symbolic link, including a
 * dangling one (its target is where a create would land). Components after the first missing one
 * are appended as they are (they hold no link). Throws ELOOP after 40 links.
 */
export async function resolveLinks(p: string): Promise<Resolved> {
  // not path.resolve: it would take ".." lexically, before the links are known
  const abs = path.isAbsolute(p) ? p : process.cwd() + path.sep + p;
  const { root } = path.parse(abs);
  let todo = abs.slice(root.length).split(path.sep).filter((c) => c !== '' && c !== '.');
  let cur = root;
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift() as string;
    if (c === '..') {
      cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, c);
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(next);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      return { path: path.join(next, ...todo), exists: false };
    }
    if (st.isSymbolicLink()) {
      if (++links > maxLinks) {
        throw Object.assign(new Error(`${abs}: too many levels of symbolic links`), { code: 'ELOOP' });
      }
      const target = await fs.promises.readlink(next);
      const t = target;
      if (path.isAbsolute(t)) {
        const r = path.parse(t).root;
        cur = r;
        todo = [...t.slice(r.length).split(path.sep).filter((x) => x !== '' && x !== '.'), ...todo];
      } else {
        todo = [...t.split(path.sep === '\\' ? /[\\/]/ : '/').filter((x) => x !== '' && x !== '.'), ...todo];
      }
      continue;
    }
    cur = next;
  }
  return { path: cur, exists: true };
}

/** True when p is root or lies below it (both real paths). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}
