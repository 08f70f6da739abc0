import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileTooLargeError, NotRegularFileError, configLimit } from '../../src/core/projectFile';
import {
  NotAFolderError, SettingsOutsideFolderError, SettingsParseError, folderSettingsPath, readSetting, refusedSettingsMessage, writeSetting,
} from '../../src/core/settingsFile';

/** A sandbox: the project folder `proj` and, beside it, `outside` (which must never change). */
function sandbox(): { base: string; proj: string; outside: string; done: () => void } {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iris-ext-settings-')));
  const proj = path.join(base, 'proj');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(proj);
  fs.mkdirSync(path.join(outside, 'vscode'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'vscode', 'settings.json'), '{\n  // the user\'s own settings\n  "editor.tabSize": 3\n}\n');
  fs.writeFileSync(path.join(outside, 'profile'), 'export PATH=/usr/bin\n', { mode: 0o600 });
  return { base, proj, outside, done: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Every entry under dir, byte for byte: type, mode, size, content or link target. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const head = `${path.relative(dir, p)} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
      if (st.isSymbolicLink()) out.push(`${head} -> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${head}/`);
        walk(p);
      } else if (st.isFile()) out.push(`${head} ${fs.readFileSync(p, 'base64')}`);
      else out.push(`${head} special`);
    }
  };
  walk(dir);
  return out;
}

const conn = { active: true, host: 'localhost', port: 34600 };

test('settings.json: created when missing, comments and other keys kept, garbage refused', async () => {
  const sb = sandbox();
  try {
    const file = folderSettingsPath(sb.proj);
    assert.equal(await readSetting(sb.proj, 'objectscript.conn'), undefined);
    await writeSetting(sb.proj, 'objectscript.conn', conn);
    assert.deepEqual(await readSetting(sb.proj, 'objectscript.conn'), conn);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['settings.json'], 'no temporary file is left');

    fs.writeFileSync(file, '{\n\t// my comment\n\t"editor.tabSize": 2,\n\t"objectscript.conn": {"host": "localhost", "port": 1,},\n}\n');
    await writeSetting(sb.proj, 'objectscript.conn', { ...conn, port: 34601 });
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /\/\/ my comment/);
    assert.match(text, /"editor.tabSize": 2/);
    assert.deepEqual(await readSetting(sb.proj, 'objectscript.conn'), { ...conn, port: 34601 });

    fs.writeFileSync(file, '{ "a": ');
    await assert.rejects(readSetting(sb.proj, 'objectscript.conn'), SettingsParseError);
    await assert.rejects(writeSetting(sb.proj, 'x', 1), SettingsParseError);
    assert.equal(fs.readFileSync(file, 'utf8'), '{ "a": ', 'a file that does not parse is never rewritten');
  } finally {
    sb.done();
  }
});

test('a rewritten settings.json keeps its mode', async () => {
  const sb = sandbox();
  try {
    const file = folderSettingsPath(sb.proj);
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, '{}\n');
    fs.chmodSync(file, 0o600);
    await writeSetting(sb.proj, 'objectscript.conn', conn);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  } finally {
    sb.done();
  }
});

// Rule 1 of issue 10: a link planted in the repository never makes the extension write outside
// the folder. The old code wrote through each of these links (and read through them).
test('a .vscode or settings.json link that leads outside the folder: nothing is read or written there', async () => {
  type Case = { name: string; plant: (sb: ReturnType<typeof sandbox>) => void; named: (proj: string) => string; resolved: (sb: ReturnType<typeof sandbox>) => string };
  const cases: Case[] = [
    {
      name: '.vscode -> an outside folder with a settings.json',
      plant: (sb) => fs.symlinkSync(path.join(sb.outside, 'vscode'), path.join(sb.proj, '.vscode')),
      named: (proj) => path.join(proj, '.vscode'),
      resolved: (sb) => path.join(sb.outside, 'vscode'),
    },
    {
      name: '.vscode -> a relative path out of the folder',
      plant: (sb) => fs.symlinkSync('../outside/vscode', path.join(sb.proj, '.vscode')),
      named: (proj) => path.join(proj, '.vscode'),
      resolved: (sb) => path.join(sb.outside, 'vscode'),
    },
    {
      name: '.vscode -> a missing outside folder (dangling)',
      plant: (sb) => fs.symlinkSync(path.join(sb.outside, 'new', 'dir'), path.join(sb.proj, '.vscode')),
      named: (proj) => path.join(proj, '.vscode'),
      resolved: (sb) => path.join(sb.outside, 'new', 'dir'),
    },
    {
      name: 'settings.json -> an outside file',
      plant: (sb) => {
        fs.mkdirSync(path.join(sb.proj, '.vscode'));
        fs.symlinkSync(path.join(sb.outside, 'profile'), path.join(sb.proj, '.vscode', 'settings.json'));
      },
      named: (proj) => folderSettingsPath(proj),
      resolved: (sb) => path.join(sb.outside, 'profile'),
    },
    {
      name: 'settings.json -> a missing outside file (dangling)',
      plant: (sb) => {
        fs.mkdirSync(path.join(sb.proj, '.vscode'));
        fs.symlinkSync(path.join(sb.outside, 'created.json'), path.join(sb.proj, '.vscode', 'settings.json'));
      },
      named: (proj) => folderSettingsPath(proj),
      resolved: (sb) => path.join(sb.outside, 'created.json'),
    },
    {
      name: '.vscode -> a folder inside, whose settings.json leads out',
      plant: (sb) => {
        fs.mkdirSync(path.join(sb.proj, 'config'));
        fs.symlinkSync('config', path.join(sb.proj, '.vscode'));
        fs.symlinkSync('../../outside/vscode/settings.json', path.join(sb.proj, 'config', 'settings.json'));
      },
      named: (proj) => folderSettingsPath(proj),
      resolved: (sb) => path.join(sb.outside, 'vscode', 'settings.json'),
    },
  ];
  for (const c of cases) {
    const sb = sandbox();
    try {
      c.plant(sb);
      const before = snapshot(sb.outside);
      const want = `${c.named(sb.proj)} leads to ${c.resolved(sb)}, outside the folder ${sb.proj}`;
      const isRefusal = (err: unknown) => {
        assert.ok(err instanceof SettingsOutsideFolderError, `${c.name}: ${String(err)}`);
        assert.equal(err.message, want, c.name);
        assert.equal(err.resolved, c.resolved(sb), c.name);
        return true;
      };
      await assert.rejects(readSetting(sb.proj, 'objectscript.conn'), isRefusal);
      await assert.rejects(writeSetting(sb.proj, 'objectscript.conn', conn), isRefusal);
      assert.deepEqual(snapshot(sb.outside), before, `${c.name}: the outside folder is unchanged`);
      await assert.rejects(writeSetting(sb.proj, 'objectscript.conn', conn), (err: unknown) => {
        assert.equal(refusedSettingsMessage('proj', 34600, err),
          `IRIS Helper left objectscript.conn of proj alone: ${want}: IRIS Helper writes nothing there. ` +
          'Point the ObjectScript extension at this project\'s IRIS yourself (web port 34600), or turn off irisHelper.updateObjectScriptConnection.');
        return true;
      });
    } finally {
      sb.done();
    }
  }
});

test('links that stay inside the folder are followed, and kept', async () => {
  const sb = sandbox();
  try {
    fs.mkdirSync(path.join(sb.proj, 'config', 'vscode'), { recursive: true });
    fs.symlinkSync('config/vscode', path.join(sb.proj, '.vscode'));
    await writeSetting(sb.proj, 'objectscript.conn', conn);
    assert.ok(fs.lstatSync(path.join(sb.proj, '.vscode')).isSymbolicLink(), 'the .vscode link is kept');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(sb.proj, 'config', 'vscode', 'settings.json'), 'utf8')), { 'objectscript.conn': conn });

    // settings.json a link to a file inside: written through, the link kept
    fs.renameSync(path.join(sb.proj, 'config', 'vscode', 'settings.json'), path.join(sb.proj, 'config', 'shared.json'));
    fs.symlinkSync('../shared.json', path.join(sb.proj, 'config', 'vscode', 'settings.json'));
    await writeSetting(sb.proj, 'objectscript.conn', { ...conn, port: 34601 });
    assert.ok(fs.lstatSync(path.join(sb.proj, 'config', 'vscode', 'settings.json')).isSymbolicLink(), 'the settings.json link is kept');
    assert.equal(JSON.parse(fs.readFileSync(path.join(sb.proj, 'config', 'shared.json'), 'utf8'))['objectscript.conn'].port, 34601);
    assert.equal(await readSetting(sb.proj, 'objectscript.conn').then((c) => (c as { port: number }).port), 34601);

    // the folder opened through a link of its own is fine (the user chose it)
    const via = path.join(sb.base, 'via-link');
    fs.symlinkSync(sb.proj, via);
    await writeSetting(via, 'objectscript.conn', { ...conn, port: 34602 });
    assert.equal(JSON.parse(fs.readFileSync(path.join(sb.proj, 'config', 'shared.json'), 'utf8'))['objectscript.conn'].port, 34602);
  } finally {
    sb.done();
  }
});

// Rule 3: a FIFO, device or directory named settings.json is an error, never waited on, never replaced.
test('a settings.json or .vscode that is no regular file / folder is refused and left as it is', { timeout: 60_000 }, async () => {
  const sb = sandbox();
  try {
    const dir = path.join(sb.proj, '.vscode');
    const file = folderSettingsPath(sb.proj);
    fs.mkdirSync(dir);
    const cases: { name: string; make: () => void; want: string; kind: (st: fs.Stats) => boolean; type: new (...a: never[]) => Error }[] = [
      { name: 'FIFO', make: () => execFileSync('mkfifo', [file]), want: `${file} is a FIFO (named pipe), not a regular file`, kind: (st) => st.isFIFO(), type: NotRegularFileError },
      { name: 'directory', make: () => fs.mkdirSync(file), want: `${file} is a directory, not a regular file`, kind: (st) => st.isDirectory(), type: NotRegularFileError },
      { name: 'link to /dev/zero', make: () => fs.symlinkSync('/dev/zero', file), want: `${file} leads to /dev/zero, outside the folder ${sb.proj}`, kind: (st) => st.isSymbolicLink(), type: SettingsOutsideFolderError },
      { name: 'too large', make: () => fs.writeFileSync(file, Buffer.alloc(configLimit + 10, 0x20)), want: `${fs.realpathSync(dir)}/settings.json is 1.0 MiB, more than the 1 MiB IRIS Helper reads`, kind: (st) => st.isFile() && st.size === configLimit + 10, type: FileTooLargeError },
    ];
    for (const c of cases) {
      fs.rmSync(file, { recursive: true, force: true });
      c.make();
      for (const op of [() => readSetting(sb.proj, 'objectscript.conn'), () => writeSetting(sb.proj, 'objectscript.conn', conn)]) {
        await assert.rejects(op(), (err: unknown) => {
          assert.ok(err instanceof c.type, `${c.name}: ${String(err)}`);
          assert.equal((err as Error).message, c.want, c.name);
          assert.notEqual(refusedSettingsMessage('proj', 1, err), undefined, c.name);
          return true;
        });
      }
      assert.ok(c.kind(fs.lstatSync(file)), `${c.name}: left as it was`);
      assert.deepEqual(fs.readdirSync(dir), ['settings.json'], `${c.name}: no temporary file left`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.writeFileSync(dir, 'not a folder');
    await assert.rejects(writeSetting(sb.proj, 'objectscript.conn', conn), (err: unknown) => {
      assert.ok(err instanceof NotAFolderError);
      assert.equal(err.message, `${dir} is a regular file, not a folder`);
      return true;
    });
    assert.equal(fs.readFileSync(dir, 'utf8'), 'not a folder');
    assert.equal(refusedSettingsMessage('proj', 1, new SettingsParseError('/x')), undefined, 'a parse error is logged, not warned about');
  } finally {
    sb.done();
  }
});
