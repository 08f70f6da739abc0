import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configLimit, describeKind, FileTooLargeError, formatSize, NotRegularFileError, openFlags, readProjectFile } from '../../src/core/projectFile';

/** A stat of one kind only, by the names of testdata/file-kinds.json. */
function statOf(kind: string): fs.Stats {
  const is = (k: string) => () => k === kind;
  return {
    isSymbolicLink: is('symlink'), isDirectory: is('directory'), isFIFO: is('fifo'), isSocket: is('socket'),
    isCharacterDevice: is('charDevice'), isBlockDevice: is('blockDevice'), isFile: is('regular'),
  } as unknown as fs.Stats;
}

test('file kinds are named in the helper\'s words (testdata/file-kinds.json, written by projfile and registry)', () => {
  const file = path.resolve(__dirname, '..', '..', '..', '..', 'testdata', 'file-kinds.json');
  const words = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  for (const [kind, want] of Object.entries(words)) {
    assert.equal(describeKind(statOf(kind)), want, kind);
  }
});

function tempDir(): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iris-ext-projfile-')));
}

test('open flags: never blocking, no link unless followed (Unix); the regular-file check only on Windows', () => {
  const c = fs.constants;
  assert.equal(openFlags('follow', 'linux'), c.O_RDONLY | c.O_NONBLOCK);
  assert.equal(openFlags('noFollow', 'linux'), c.O_RDONLY | c.O_NONBLOCK | c.O_NOFOLLOW);
  assert.equal(openFlags('noFollow', 'win32'), c.O_RDONLY);
});

test('a regular file is read; a missing one is undefined', async () => {
  const dir = tempDir();
  try {
    const f = path.join(dir, '.iris-helper.json');
    assert.equal(await readProjectFile(f, configLimit, 'noFollow'), undefined);
    fs.writeFileSync(f, '{"iris":{"namespace":"APP"}}');
    assert.equal(await readProjectFile(f, configLimit, 'noFollow'), '{"iris":{"namespace":"APP"}}');
    fs.writeFileSync(f, '');
    assert.equal(await readProjectFile(f, configLimit, 'noFollow'), '');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// the old code (fs.readFile) blocked forever on the FIFO; the timeout only turns that hang into a failure
test('a FIFO, a directory or a device is refused at once, never waited on, and left as it is', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  try {
    const fifo = path.join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    const sub = path.join(dir, 'folder.json');
    fs.mkdirSync(sub);
    const cases: { file: string; want: string }[] = [
      { file: fifo, want: `${fifo} is a FIFO (named pipe), not a regular file` },
      { file: sub, want: `${sub} is a directory, not a regular file` },
      { file: '/dev/zero', want: '/dev/zero is a character device, not a regular file' },
      { file: '/dev/null', want: '/dev/null is a character device, not a regular file' },
    ];
    for (const c of cases) {
      for (const follow of ['follow', 'noFollow'] as const) {
        await assert.rejects(readProjectFile(c.file, configLimit, follow), (err: unknown) => {
          assert.ok(err instanceof NotRegularFileError, `${c.file} ${follow}: ${String(err)}`);
          assert.equal(err.message, c.want);
          return true;
        });
      }
    }
    assert.ok(fs.lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    assert.ok(fs.lstatSync(sub).isDirectory());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a link is followed only when the caller says so', async () => {
  const dir = tempDir();
  try {
    const target = path.join(dir, 'real.json');
    fs.writeFileSync(target, '{}');
    const link = path.join(dir, 'link.json');
    fs.symlinkSync(target, link);
    assert.equal(await readProjectFile(link, configLimit, 'follow'), '{}');
    await assert.rejects(readProjectFile(link, configLimit, 'noFollow'), (err: unknown) => {
      assert.ok(err instanceof NotRegularFileError);
      assert.equal(err.message, `${link} is a symbolic link, not a regular file`);
      return true;
    });
    // a link to a FIFO, followed, is still refused
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const toFifo = path.join(dir, 'to-fifo.json');
    fs.symlinkSync(fifo, toFifo);
    await assert.rejects(readProjectFile(toFifo, configLimit, 'follow'), { message: `${toFifo} is a FIFO (named pipe), not a regular file` });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('reads are bounded: 1 MiB is read, one byte more is refused, naming size and limit', async () => {
  const dir = tempDir();
  try {
    const f = path.join(dir, 'settings.json');
    fs.writeFileSync(f, Buffer.alloc(configLimit, 0x20));
    assert.equal((await readProjectFile(f, configLimit, 'noFollow'))?.length, configLimit);
    fs.writeFileSync(f, Buffer.alloc(configLimit + 1, 0x20));
    await assert.rejects(readProjectFile(f, configLimit, 'noFollow'), (err: unknown) => {
      assert.ok(err instanceof FileTooLargeError);
      assert.equal(err.message, `${f} is 1.0 MiB, more than the 1 MiB IRIS Helper reads`);
      return true;
    });
    fs.writeFileSync(f, Buffer.alloc(200 << 20 >> 4, 0x20)); // 12.5 MiB
    await assert.rejects(readProjectFile(f, configLimit, 'noFollow'), { message: `${f} is 12.5 MiB, more than the 1 MiB IRIS Helper reads` });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sizes in the helper\'s words', () => {
  assert.equal(formatSize(1 << 20), '1 MiB');
  assert.equal(formatSize(16 << 20), '16 MiB');
  assert.equal(formatSize((1 << 20) + 1), '1.0 MiB');
  assert.equal(formatSize(2048), '2 KiB');
  assert.equal(formatSize(2049), '2049 bytes');
  assert.equal(formatSize(3 * (1 << 30)), '3 GiB');
});
