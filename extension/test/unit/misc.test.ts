import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundledHelperPath, checkHelper, chooseHelper, platformTarget } from '../../src/core/helperBinary';
import { versionMismatch } from '../../src/core/version';
import { connectionString, portActionEffect, portActions, portItems, registryOnlyConn } from '../../src/core/ports';
import { managementPortalUrl } from '../../src/core/commands';
import type { PortEntry } from '../../src/core/protocol';

test('bundled binary path per platform', () => {
  assert.equal(bundledHelperPath('/ext', 'linux', 'x64'), path.join('/ext', 'bin', 'linux-x64', 'iris-helper'));
  assert.equal(bundledHelperPath('/ext', 'win32', 'x64'), path.join('/ext', 'bin', 'win32-x64', 'iris-helper.exe'));
  assert.equal(platformTarget('darwin', 'arm64'), 'darwin-arm64');
});

test('helperPath only in trusted workspaces', () => {
  assert.deepEqual(chooseHelper('/ext', '/opt/iris-helper', true), { path: '/opt/iris-helper', source: 'setting' });
  assert.equal(chooseHelper('/ext', '/opt/iris-helper', false).source, 'bundled');
  assert.equal(chooseHelper('/ext', '  ', true).source, 'bundled');
});

test('missing or non-executable binary -> a message naming irisHelper.helperPath', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-ext-bin-'));
  try {
    const exe = path.join(dir, 'iris-helper');
    assert.match(checkHelper({ path: exe, source: 'bundled' }) ?? '', /missing.*irisHelper\.helperPath/s);
    assert.match(checkHelper({ path: exe, source: 'setting' }) ?? '', /not found.*irisHelper\.helperPath/s);
    fs.writeFileSync(exe, '#!/bin/sh\n', { mode: 0o644 });
    assert.match(checkHelper({ path: exe, source: 'setting' }, 'linux') ?? '', /not executable.*irisHelper\.helperPath/s);
    fs.chmodSync(exe, 0o755);
    assert.equal(checkHelper({ path: exe, source: 'setting' }, 'linux'), undefined);
    // the bundled binary gets its exec bit back (a user's own binary is never chmod-ed)
    fs.chmodSync(exe, 0o644);
    assert.equal(checkHelper({ path: exe, source: 'bundled' }, 'linux'), undefined);
    assert.equal(fs.statSync(exe).mode & 0o111, 0o111);
    assert.match(checkHelper({ path: dir, source: 'setting' }) ?? '', /not a file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('version comparison', () => {
  assert.equal(versionMismatch('0.1.0', '0.1.0', '/h'), undefined);
  assert.equal(versionMismatch('0.1.0', 'v0.1.0', '/h'), undefined);
  assert.match(versionMismatch('0.1.0', '0.2.0', '/h') ?? '', /\/h is version 0\.2\.0, but the IRIS Helper extension is version 0\.1\.0/);
  assert.match(versionMismatch('0.1.0', undefined, '/h') ?? '', /unknown version/);
});

function assignment(over: Partial<PortEntry>): PortEntry {
  return { project: '/w/a', slot: 0, superserverPort: 34500, webPort: 34600, type: 'auto', status: 'active', container: 'iris_1_34500', engine: 'unix:///var/run/docker.sock', assignedAt: '2026-11-26T10:00:00Z', lastUsedAt: '2026-11-26T11:00:00Z', containerState: '', state: '', ports: [], ...over };
}

test('Show Ports items: open projects first, live state shown', () => {
  const items = portItems([
    assignment({ project: '/w/z', superserverPort: 34501, webPort: 34601, state: 'stopped' }),
    assignment({ project: '/w/other', superserverPort: 34499, webPort: 34599, containerState: 'running' }),
    assignment({ project: '/w/a', state: 'ready' }),
  ], ['/w/a']);
  assert.deepEqual(items.map((i) => i.label), ['$(database) a', '$(database) other', '$(circle-outline) z']);
  assert.equal(items[0].description, ':34500 · web :34600 · ready · this window');
  assert.match(items[2].detail, /^\/w\/z · iris_1_34500 · auto/);
});

test('Show Ports names every published port of a compose project beyond the IRIS pair', () => {
  const p = (service: string, containerPort: number, hostPort: number, protocol = 'tcp') =>
    ({ service, containerPort, protocol, hostPort, hostIP: '127.0.0.1', pinnedHostPort: 0, state: 'running' });
  const [item] = portItems([assignment({ project: '/w/shop', state: 'ready',
    ports: [p('iris', 1972, 34500), p('iris', 52773, 34600), p('iris', 53773, 12000), p('web', 80, 12001), p('dns', 53, 12002, 'udp'), p('web', 8080, 0)] })], []);
  assert.equal(item.description, ':34500 · web :34600 · iris/53773 :12000 · web/80 :12001 · dns/53/udp :12002 · ready');
});

test('port actions and connection string', () => {
  const a = assignment({});
  assert.deepEqual(portActions(a, false, registryOnlyConn).map((x) => x.action), ['copyPort', 'copyWebPort', 'copyConnectionString', 'openPortal']);
  assert.deepEqual(portActions(a, true, registryOnlyConn).map((x) => x.action), ['copyPort', 'copyWebPort', 'copyConnectionString', 'openPortal', 'release']);
  assert.equal(connectionString(a, registryOnlyConn), 'iris://_SYSTEM@localhost:34500/USER');
  assert.equal(connectionString(a, { host: '127.0.0.2', namespace: 'APP', username: 'dev' }), 'iris://dev@127.0.0.2:34500/APP');
  assert.equal(connectionString(a, { host: 'fd00::5', namespace: 'APP', username: 'dev' }), 'iris://dev@[fd00::5]:34500/APP');
  assert.equal(managementPortalUrl('localhost', 34600), 'http://localhost:34600/csp/sys/UtilHome.csp');
  assert.equal(managementPortalUrl('127.0.0.2', 34600), 'http://127.0.0.2:34600/csp/sys/UtilHome.csp');
});

test('what each port action does: host, namespace and user from the status', () => {
  const a = assignment({});
  const conn = { host: '127.0.0.2', namespace: 'APP', username: 'dev' };
  assert.deepEqual(portActions(a, true, conn).map((x) => portActionEffect(x.action, a, conn)), [
    { kind: 'copy', text: '34500' },
    { kind: 'copy', text: '34600' },
    { kind: 'copy', text: 'iris://dev@127.0.0.2:34500/APP' },
    { kind: 'open', url: 'http://127.0.0.2:34600/csp/sys/UtilHome.csp' },
    { kind: 'release' },
  ]);
  assert.deepEqual(portActionEffect('copyConnectionString', a, registryOnlyConn), { kind: 'copy', text: 'iris://_SYSTEM@localhost:34500/USER' });
});

test('Show Ports, a project open here: the ObjectScript line (Retry) and every published port, copied by its host port', () => {
  const { openProjectItems, portActionEffect } = require('../../src/core/ports') as typeof import('../../src/core/ports');
  const items = openProjectItems([
    { service: 'iris', containerPort: 52773, protocol: 'tcp', hostPort: 34600, hostIP: '127.0.0.1', pinnedHostPort: 52773, state: 'running' },
    { service: 'web', containerPort: 80, protocol: 'tcp', hostPort: 34080, hostIP: '::1', pinnedHostPort: 0, state: 'running' },
    { service: 'iris', containerPort: 53773, protocol: 'tcp', hostPort: 0, hostIP: '', pinnedHostPort: 0, state: 'running' },
  ], { text: 'ObjectScript: not connected — nothing answers on localhost:34600 (connection refused)', connected: false, retry: true });
  assert.deepEqual(items, [
    { label: '$(circle-slash) ObjectScript: not connected — nothing answers on localhost:34600 (connection refused)', description: 'Retry', action: 'retryObjectScript' },
    { label: '$(plug) iris 52773/tcp → 127.0.0.1:34600', description: 'copy 34600 (compose file: 52773)', action: 'copyPublished', hostPort: 34600 },
    { label: '$(plug) web 80/tcp → [::1]:34080', description: 'copy 34080', action: 'copyPublished', hostPort: 34080 },
  ]);
  const a = { project: '/p', slot: 0, superserverPort: 34601, webPort: 34600, type: 'auto', status: 'assigned', container: '', engine: '', assignedAt: '', lastUsedAt: '', containerState: 'running', state: 'ready', ports: [] };
  assert.deepEqual(portActionEffect('copyPublished', a, { host: 'localhost', namespace: 'USER', username: '_SYSTEM' }, items[2]), { kind: 'copy', text: '34080' });
  assert.deepEqual(portActionEffect('retryObjectScript', a, { host: 'localhost', namespace: 'USER', username: '_SYSTEM' }), { kind: 'retryObjectScript' });
  assert.deepEqual(openProjectItems(undefined, undefined), []);
  assert.deepEqual(openProjectItems(undefined, { text: 'ObjectScript: the InterSystems ObjectScript extension is not installed', connected: false, retry: false }), []);
});
