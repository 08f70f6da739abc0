import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { answeringFolder, helperRoots, isSameOrInside, routeCommand, rootFor } from '../../src/core/routing';

const f = (uri: string, name = uri.split('/').pop() ?? uri) => ({ uri, name });

test('isSameOrInside compares path segments, not prefixes', () => {
  assert.equal(isSameOrInside('file:///a/b/c.cls', 'file:///a/b'), true);
  assert.equal(isSameOrInside('file:///a/b', 'file:///a/b/'), true);
  assert.equal(isSameOrInside('file:///a/bc', 'file:///a/b'), false);
  assert.equal(isSameOrInside('file:///C%3A/x/y', 'file:///c%3A/x'), true);
});

test('nested folders collapse to the outermost; non-file folders get no helper', () => {
  const roots = helperRoots([
    f('file:///w/app/sub'), f('file:///w/app'), f('file:///w/other'), f('vscode-vfs://github/x/y'),
    f('file:///w/app/sub/deeper'), f('file:///w/other/'), f('file:///w/apple'),
  ]);
  assert.deepEqual(roots.map((r) => r.uri), ['file:///w/app', 'file:///w/other', 'file:///w/apple']);
});

test('rootFor finds the folder of a document', () => {
  const roots = [f('file:///w/a'), f('file:///w/b')];
  assert.equal(rootFor(roots, 'file:///w/b/src/X.cls')?.uri, 'file:///w/b');
  assert.equal(rootFor(roots, 'untitled:Untitled-1'), undefined);
  assert.equal(rootFor(roots, undefined), undefined);
});

test('commands go to the argument, else the active editor, else the only folder, else ask', () => {
  const a = f('file:///w/a'), b = f('file:///w/b');
  assert.deepEqual(routeCommand([], undefined, undefined), { kind: 'none' });
  assert.deepEqual(routeCommand([a, b], 'file:///w/b', 'file:///w/a/x.cls'), { kind: 'folder', folder: b });
  assert.deepEqual(routeCommand([a, b], undefined, 'file:///w/a/x.cls'), { kind: 'folder', folder: a });
  assert.deepEqual(routeCommand([a], undefined, 'file:///elsewhere/x.cls'), { kind: 'folder', folder: a });
  assert.deepEqual(routeCommand([a, b], undefined, 'file:///elsewhere/x.cls'), { kind: 'ask', choices: [a, b] });
  assert.deepEqual(routeCommand([a, b], 'file:///nowhere', undefined), { kind: 'ask', choices: [a, b] });
});

test('a machine-wide question goes to the routed folder when its helper runs, else to any running helper', () => {
  const a = f('file:///w/a'), b = f('file:///w/b'), c = f('file:///w/c');
  const up = (...running: { uri: string }[]) => (x: { uri: string }) => running.includes(x);
  assert.equal(answeringFolder([a, b, c], 'file:///w/b', undefined, up(a, b, c)), b);
  assert.equal(answeringFolder([a, b, c], undefined, 'file:///w/c/x.cls', up(a, b, c)), c);
  assert.equal(answeringFolder([a, b, c], 'file:///w/b', undefined, up(c)), c);
  // several folders and nothing routed: no picker, the first running one
  assert.equal(answeringFolder([a, b, c], undefined, undefined, up(b, c)), b);
  assert.equal(answeringFolder([a, b, c], undefined, undefined, up()), undefined);
  assert.equal(answeringFolder([], undefined, undefined, up()), undefined);
});
