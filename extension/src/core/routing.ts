// Which folders get a helper, and which folder a command acts on. No `vscode` import:
// folders are given as URI strings ("file:///home/me/proj"), compared by path segments.

/** A workspace folder as the routing needs it. */
export interface FolderRef {
  uri: string;
  name: string;
}

/** URI string without a trailing slash, with a lower-cased drive letter on Windows paths. */
export function normalizeUri(uri: string): string {
  let u = uri.replace(/\/+$/, '');
  u = u.replace(/^file:\/\/\/([A-Za-z])(:|%3A)/, (_m, d: string, c: string) => `file:///${d.toLowerCase()}${c}`);
  return u;
}

/** True when `inner` is `outer` or lies below it. */
export function isSameOrInside(inner: string, outer: string): boolean {
  const i = normalizeUri(inner);
  const o = normalizeUri(outer);
  return i === o || i.startsWith(o + '/');
}

/**
 * The folders that get their own helper: file folders only, nested folders collapse into the
 * outermost one that contains them, duplicates removed. Workspace order is kept.
 */
export function helperRoots<T extends FolderRef>(folders: readonly T[]): T[] {
  const files = folders.filter((f) => f.uri.startsWith('file:'));
  const out: T[] = [];
  for (const f of files) {
    const nestedInOther = files.some((o) => o !== f && isSameOrInside(f.uri, o.uri) &&
      // of two equal URIs keep the first
      (normalizeUri(o.uri) !== normalizeUri(f.uri) || files.indexOf(o) < files.indexOf(f)));
    if (!nestedInOther) out.push(f);
  }
  return out;
}

/** The root that contains `uri` (an editor's document), if any. */
export function rootFor<T extends FolderRef>(roots: readonly T[], uri: string | undefined): T | undefined {
  if (uri === undefined) return undefined;
  return roots.find((r) => isSameOrInside(uri, r.uri));
}

export type Route<T> = { kind: 'folder'; folder: T } | { kind: 'ask'; choices: T[] } | { kind: 'none' };

/**
 * Decides which folder a command acts on: the folder named by the command's argument (a
 * status-bar or tooltip click), else the active editor's folder, else the only folder, else
 * ask among all of them.
 */
export function routeCommand<T extends FolderRef>(roots: readonly T[], argUri: string | undefined, activeEditorUri: string | undefined): Route<T> {
  if (roots.length === 0) return { kind: 'none' };
  const byArg = rootFor(roots, argUri);
  if (byArg) return { kind: 'folder', folder: byArg };
  const byEditor = rootFor(roots, activeEditorUri);
  if (byEditor) return { kind: 'folder', folder: byEditor };
  if (roots.length === 1) return { kind: 'folder', folder: roots[0] };
  return { kind: 'ask', choices: [...roots] };
}

/**
 * The folder whose helper answers a question about the whole machine (iris/ports: every helper
 * reads the same registry): the folder the command is routed to when its helper runs, else the
 * first folder whose helper runs. undefined when no helper runs; never asks.
 */
export function answeringFolder<T extends FolderRef>(roots: readonly T[], argUri: string | undefined, activeEditorUri: string | undefined, running: (f: T) => boolean): T | undefined {
  const routed = routeCommand(roots, argUri, activeEditorUri);
  return (routed.kind === 'folder' && running(routed.folder) ? routed.folder : undefined) ?? roots.find(running);
}
