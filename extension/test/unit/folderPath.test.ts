import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInside, resolveLinks } from '../../src/core/folderPath';

test('resolveLinks follows every link as the kernel does, dangling ones too', async () => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iris-ext-links-')));
  try {
    const root = path.join(base, 'proj');
    const out = path.join(base, 'outside');
    fs.mkdirSync(path.join(root, 'config', 'vscode'), { recursive: true });
    fs.mkdirSync(out);
    fs.symlinkSync('config/vscode', path.join(root, 'rel'));
    fs.symlinkSync(out, path.join(root, 'abs'));
    fs.symlinkSync(path.join(out, 'missing', 'deeper'), path.join(root, 'dangling'));
    fs.symlinkSync('abs/../proj-sibling', path.join(root, 'dotdot'));
    fs.symlinkSync('loop2', path.join(root, 'loop1'));
    fs.symlinkSync('loop1', path.join(root, 'loop2'));
    const cases: { p: string; want: string; exists: boolean }[] = [
      { p: path.join(root, 'config'), want: path.join(root, 'config'), exists: true },
      { p: path.join(root, 'rel', 'settings.json'), want: path.join(root, 'config', 'vscode', 'settings.json'), exists: false },
      { p: path.join(root, 'abs'), want: out, exists: true },
      { p: path.join(root, 'dangling', 'settings.json'), want: path.join(out, 'missing', 'deeper', 'settings.json'), exists: false },
      // ".." after a link goes up from the link's target, not lexically
      { p: path.join(root, 'dotdot'), want: path.join(base, 'proj-sibling'), exists: false },
      { p: `${root}/abs/../proj/config`, want: path.join(base, 'proj', 'config'), exists: true },
      { p: `${root}/nope/../config`, want: path.join(root, 'config'), exists: false },
    ];
    for (const c of cases) {
      assert.deepEqual(await resolveLinks(c.p), { path: c.want, exists: c.exists }, c.p);
    }
    await assert.rejects(resolveLinks(path.join(root, 'loop1')), { code: 'ELOOP' });
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('isInside', () => {
  assert.equal(isInside('/w/p', '/w/p'), true);
  assert.equal(isInside('/w/p', '/w/p/.vscode/settings.json'), true);
  assert.equal(isInside('/w/p', '/w/p/..foo'), true);
  assert.equal(isInside('/w/p', '/w/p2'), false);
  assert.equal(isInside('/w/p', '/w'), false);
  assert.equal(isInside('/w/p', '/etc/passwd'), false);
  assert.equal(isInside('/', '/etc'), true);
});
