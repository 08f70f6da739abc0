import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decideConn, foreignConnMessage, parseProjectIrisSettings, readProjectIrisSettings } from '../../src/core/objectscriptConn';

const base = { enabled: true, webPort: 34600, written: undefined, project: {} };

test('empty settings: write active/localhost/web port/USER/_SYSTEM, never a password', () => {
  const d = decideConn({ ...base, current: undefined });
  assert.deepEqual(d, { action: 'write', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' }, written: { host: 'localhost', port: 34600 } });
  assert.ok(d.action === 'write' && !('password' in d.conn));
});

test('namespace and username come from .iris-helper.json', () => {
  const d = decideConn({ ...base, current: { ns: 'OLD' }, project: { namespace: 'APP', username: 'dev' } });
  assert.equal(d.action, 'write');
  assert.ok(d.action === 'write' && d.conn.ns === 'APP' && d.conn.username === 'dev');
});

test("the user's own ns/username and other keys are kept when .iris-helper.json says nothing", () => {
  const d = decideConn({ ...base, current: { ns: 'MINE', username: 'me', https: false, links: { a: 'b' } } });
  assert.ok(d.action === 'write');
  assert.deepEqual(d.conn, { ns: 'MINE', username: 'me', https: false, links: { a: 'b' }, active: true, host: 'localhost', port: 34600 });
});

test('what the helper wrote before is updated when the port moves', () => {
  const d = decideConn({ ...base, webPort: 34601, current: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' }, written: { host: 'localhost', port: 34600 } });
  assert.ok(d.action === 'write' && d.conn.port === 34601);
});

test('pointed elsewhere by the user: left alone', () => {
  const cases = [
    { current: { server: 'prod' }, reason: /server "prod"/ },
    { current: { 'docker-compose': { service: 'iris' } }, reason: /docker-compose/ },
    { current: { host: 'iris.example.com', port: 52773 }, reason: /iris\.example\.com:52773/ },
    { current: { host: 'localhost', port: 52773 }, reason: /localhost:52773/ },
    { current: { port: 52773 }, reason: /\(no host\):52773/ },
    // the helper wrote 34600 earlier, the user changed it since
    { current: { host: 'localhost', port: 1234 }, written: { host: 'localhost', port: 34600 }, reason: /localhost:1234/ },
  ];
  for (const c of cases) {
    const d = decideConn({ ...base, ...c });
    assert.equal(d.action, 'foreign', JSON.stringify(c));
    assert.ok(d.action === 'foreign' && c.reason.test(d.reason), d.action === 'foreign' ? d.reason : '');
  }
});

test('already right: unchanged; right port but inactive: written', () => {
  assert.deepEqual(decideConn({ ...base, current: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' } }), { action: 'unchanged' });
  assert.equal(decideConn({ ...base, current: { active: false, host: 'localhost', port: 34600 } }).action, 'write');
});

test('off, or no port yet: skip', () => {
  assert.deepEqual(decideConn({ ...base, enabled: false, current: undefined }), { action: 'skip' });
  assert.deepEqual(decideConn({ ...base, webPort: 0, current: undefined }), { action: 'skip' });
});

test('parseProjectIrisSettings', () => {
  assert.deepEqual(parseProjectIrisSettings('{"iris":{"namespace":"APP","username":"u"}}'), { namespace: 'APP', username: 'u' });
  assert.deepEqual(parseProjectIrisSettings('{"image":"x"}'), {});
  assert.deepEqual(parseProjectIrisSettings('not json'), {});
  assert.deepEqual(parseProjectIrisSettings(undefined), {});
});

test('the notice for a connection left alone', () => {
  assert.equal(foreignConnMessage('second-project', 'it points at iris.example.com:52773', 34601),
    'IRIS Helper left objectscript.conn of second-project alone: it points at iris.example.com:52773. ' +
    "This project's IRIS listens on web port 34601. (Shown once; turn off irisHelper.updateObjectScriptConnection to stop checking.)");
});

test('readProjectIrisSettings: the project file, none, or a warning and the defaults', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-ext-iris-'));
  try {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    const file = path.join(dir, '.iris-helper.json');
    assert.deepEqual(await readProjectIrisSettings(dir, warn), {});
    fs.writeFileSync(file, '{"iris":{"namespace":"APP","username":"dev"}}');
    assert.deepEqual(await readProjectIrisSettings(dir, warn), { namespace: 'APP', username: 'dev' });
    assert.deepEqual(warnings, []);
    fs.rmSync(file);
    fs.mkdirSync(file);
    assert.deepEqual(await readProjectIrisSettings(dir, warn), {});
    assert.deepEqual(warnings, [`${file} is a directory, not a regular file; using the default namespace and user`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
