import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { decideConn, foreignConnMessage } from '../../src/core/objectscriptConn';
import { isStatus } from '../../src/core/protocol';
import { readGolden } from './golden';

// host, namespace and username come from the helper's status (which applied the defaults)
const defaults = { webPort: 34600, host: 'localhost', namespace: 'USER', username: '_SYSTEM' };
const base = { enabled: true, status: defaults, written: undefined };

test('empty settings: write active/localhost/web port/USER/_SYSTEM, never a password', () => {
  const d = decideConn({ ...base, current: undefined });
  assert.deepEqual(d, { action: 'write', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' }, written: { host: 'localhost', port: 34600 } });
  assert.ok(d.action === 'write' && !('password' in d.conn));
});

test('host, namespace and username come from the status: bindAddress 127.0.0.2 (the golden status)', () => {
  const s = readGolden('status.json');
  assert.ok(isStatus(s));
  assert.equal(s.bindAddress, '127.0.0.2');
  const d = decideConn({ enabled: true, status: s, written: undefined, current: { ns: 'OLD', https: false } });
  assert.deepEqual(d, { action: 'write', conn: { ns: 'APP', https: false, active: true, host: '127.0.0.2', port: 52774, username: 'dev' }, written: { host: '127.0.0.2', port: 52774 } });
  // written before at localhost (the old hard-coded host): ours, so it moves to the status' host
  const again = decideConn({ enabled: true, status: s, written: { host: 'localhost', port: 52774 }, current: { active: true, host: 'localhost', port: 52774, ns: 'APP', username: 'dev' } });
  assert.deepEqual(again, { action: 'write', conn: { active: true, host: '127.0.0.2', port: 52774, ns: 'APP', username: 'dev' }, written: { host: '127.0.0.2', port: 52774 } });
});

test("the user's other keys are kept; ns and username follow the status", () => {
  const d = decideConn({ ...base, current: { ns: 'MINE', username: 'me', https: false, links: { a: 'b' } } });
  assert.ok(d.action === 'write');
  assert.deepEqual(d.conn, { ns: 'USER', username: '_SYSTEM', https: false, links: { a: 'b' }, active: true, host: 'localhost', port: 34600 });
});

test('what the helper wrote before is updated when the port moves', () => {
  const d = decideConn({ ...base, status: { ...defaults, webPort: 34601 }, current: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' }, written: { host: 'localhost', port: 34600 } });
  assert.deepEqual(d, { action: 'write', conn: { active: true, host: 'localhost', port: 34601, ns: 'USER', username: '_SYSTEM' }, written: { host: 'localhost', port: 34601 } });
});

test('pointed elsewhere by the user: left alone', () => {
  const cases = [
    { current: { server: 'prod' }, reason: 'it uses the server "prod"' },
    { current: { 'docker-compose': { service: 'iris' } }, reason: 'it uses docker-compose' },
    { current: { host: 'iris.example.com', port: 52773 }, reason: 'it points at iris.example.com:52773' },
    { current: { host: 'localhost', port: 52773 }, reason: 'it points at localhost:52773' },
    { current: { port: 52773 }, reason: 'it points at (no host):52773' },
    // the helper wrote 34600 earlier, the user changed it since
    { current: { host: 'localhost', port: 1234 }, written: { host: 'localhost', port: 34600 }, reason: 'it points at localhost:1234' },
  ];
  for (const c of cases) {
    assert.deepEqual(decideConn({ ...base, ...c }), { action: 'foreign', reason: c.reason }, JSON.stringify(c));
  }
});

test('already right: unchanged; right port but inactive: written', () => {
  assert.deepEqual(decideConn({ ...base, current: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' } }), { action: 'unchanged' });
  assert.equal(decideConn({ ...base, current: { active: false, host: 'localhost', port: 34600 } }).action, 'write');
});

test('off, or no port yet: skip', () => {
  assert.deepEqual(decideConn({ ...base, enabled: false, current: undefined }), { action: 'skip' });
  assert.deepEqual(decideConn({ ...base, status: { ...defaults, webPort: 0 }, current: undefined }), { action: 'skip' });
});

test('the notice for a connection left alone', () => {
  assert.equal(foreignConnMessage('second-project', 'it points at iris.example.com:52773', 34601),
    'IRIS Helper left objectscript.conn of second-project alone: it points at iris.example.com:52773. ' +
    "This project's IRIS listens on web port 34601. (Shown once; turn off irisHelper.updateObjectScriptConnection to stop checking.)");
});
