import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { helperHome, instancePassword, readServerRecord, recordFileName, recordServer, sameDefinition, serverDefinition, serverName } from '../../src/core/serverRecord';

test('the home is IRIS_HELPER_HOME (absolute), else ~/.iris-helper, as the helper computes it', () => {
  assert.equal(helperHome({ IRIS_HELPER_HOME: '/srv/ih' }, '/home/ada'), '/srv/ih');
  assert.equal(helperHome({ IRIS_HELPER_HOME: 'rel' }, '/home/ada'), path.resolve('rel'));
  assert.equal(helperHome({}, '/home/ada'), '/home/ada/.iris-helper');
});

test('the definition name: folder slug and 8 hex of the root (two clones with one folder name differ)', () => {
  assert.match(serverName('My Project', '/home/ada/src/my-project'), /^iris-helper-my-project-[0-9a-f]{8}$/);
  assert.notEqual(serverName('orders', '/a/orders'), serverName('orders', '/b/orders'));
  assert.equal(serverName('orders', '/a/orders'), serverName('orders', '/a/orders'));
});

test('the definition: http, the project host and web port, username, the default password, description naming the root', () => {
  const d = serverDefinition('localhost', 34600, '_SYSTEM', '/home/ada/src/orders');
  assert.deepEqual(d, { webServer: { scheme: 'http', host: 'localhost', port: 34600 }, username: '_SYSTEM', password: 'SYS', description: 'iris-helper: /home/ada/src/orders' });
  assert.equal(sameDefinition(structuredClone(d), d), true);
  assert.equal(sameDefinition({ ...d, webServer: { ...d.webServer, port: 34601 } }, d), false);
  assert.equal(sameDefinition(undefined, d), false);
});

test('the record: 0600 file (0700 home when created), only recorded names are ours, a damaged file is an empty record', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ih-rec-'));
  try {
    const home = path.join(tmp, 'home');
    assert.deepEqual(readServerRecord(home), { servers: {} });
    recordServer(home, 'iris-helper-orders-1a2b3c4d', '/a/orders');
    recordServer(home, 'iris-helper-orders-1a2b3c4d', '/a/orders');
    recordServer(home, 'iris-helper-web-99999999', '/a/web');
    assert.deepEqual(readServerRecord(home), { servers: { 'iris-helper-orders-1a2b3c4d': { project: '/a/orders' }, 'iris-helper-web-99999999': { project: '/a/web' } } });
    assert.equal(fs.statSync(path.join(home, recordFileName)).mode & 0o777, 0o600);
    assert.equal(fs.statSync(home).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(home), [recordFileName]);
    fs.writeFileSync(path.join(home, recordFileName), '{not json');
    assert.deepEqual(readServerRecord(home), { servers: {} });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("the instance's password is the helper's when it gave one (a regular file naming the project), else SYS", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-helper-cred-'));
  const root = '/home/ada/src/orders';
  const file = path.join(home, 'credentials', crypto.createHash('sha256').update(root).digest('hex').slice(0, 8) + '.json');
  assert.equal(instancePassword(home, root), 'SYS');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ project: root, username: '_SYSTEM', password: 'K3Y7Q2' }), { mode: 0o600 });
  assert.equal(instancePassword(home, root), 'K3Y7Q2');
  fs.writeFileSync(file, JSON.stringify({ project: '/other', username: '_SYSTEM', password: 'K3Y7Q2' }), { mode: 0o600 });
  assert.equal(instancePassword(home, root), 'SYS', 'another project\'s file');
  fs.rmSync(file);
  fs.symlinkSync('/etc/hostname', file);
  assert.equal(instancePassword(home, root), 'SYS', 'a link is not followed');
  assert.deepEqual(serverDefinition('localhost', 52773, '_SYSTEM', root, 'K3Y7Q2').password, 'K3Y7Q2');
});
