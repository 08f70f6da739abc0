// The keeper of one folder's objectscript.conn against a fake host (the settings file, the user
// settings' Server Manager definitions, the clock): what is written, in which order, and when.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ConnKeeper, type KeeperHost } from '../../src/core/connKeeper';
import type { ObjectScriptConn, WrittenConn } from '../../src/core/objectscriptConn';
import type { Status } from '../../src/core/protocol';
import { SettingsOutsideFolderError } from '../../src/core/settingsFile';

function status(over: Partial<Status> = {}): Status {
  return {
    project: '/home/me/proj', isIrisProject: true, state: 'ready', superserverPort: 34601, webPort: 34600,
    bindAddress: '127.0.0.1', host: 'localhost', namespace: 'USER', username: '_SYSTEM', kind: 'image', composeProject: '', irisService: '', ports: [], container: 'iris_ab12cd34_34601', image: 'iris-helper/iris-stub:dev',
    startedAt: '2026-12-01T10:00:00Z', exitCode: null, phase: '', envFile: '', restartNeeded: false, message: '', ...over,
  };
}

const cred = 'iris-helper-proj-1a2b3c4d';

function fakeHost(opts: { conn?: ObjectScriptConn; sm?: boolean; smRefuses?: boolean; servers?: Record<string, { host?: string; port?: number }>; refuse?: boolean } = {}) {
  let conn = opts.conn;
  let written: WrittenConn | undefined;
  let t = 0;
  const ours = new Set<string>();
  const servers: Record<string, { host?: string; port?: number }> = { ...(opts.servers ?? {}) };
  const writes: ObjectScriptConn[] = [];
  const notices: string[] = [];
  const ensured: string[] = [];
  const refused: string[] = [];
  const host: KeeperHost = {
    folderName: 'proj',
    enabled: () => true,
    readConn: async () => {
      if (opts.refuse) throw new SettingsOutsideFolderError('/home/me/proj/.vscode', '/etc/x', '/home/me/proj');
      return conn === undefined ? undefined : structuredClone(conn);
    },
    writeConn: async (c) => {
      if (opts.refuse) throw new SettingsOutsideFolderError('/home/me/proj/.vscode', '/etc/x', '/home/me/proj');
      conn = structuredClone(c);
      writes.push(structuredClone(c));
    },
    getWritten: () => written,
    setWritten: async (w) => {
      written = w;
    },
    isOurServer: (n) => ours.has(n),
    credentialServer: () => (opts.sm ? cred : undefined),
    ensureServer: async (name, s) => {
      ensured.push(`${name} ${s.host}:${s.webPort}`);
      if (opts.smRefuses) return false;
      ours.add(name);
      servers[name] = { host: s.host, port: s.webPort };
      return true;
    },
    serverWebServer: (n) => servers[n],
    noticeOnce: async (key, text) => {
      notices.push(`${key}: ${text}`);
    },
    refused: (err) => {
      refused.push((err as Error).message);
      return true;
    },
    log: () => undefined,
    event: () => undefined,
    now: () => t,
  };
  return {
    host, writes, notices, ensured, refused, servers,
    get conn() { return conn; },
    /** someone else writes the conn (the ObjectScript extension, the user) */
    set conn(c) { conn = c; },
    set now(v: number) { t = v; },
  };
}

test('keeper: nothing while IRIS starts; at ready one write naming iris-helper\'s definition, created first', async () => {
  const h = fakeHost({ sm: true });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  k.update(status({ state: 'starting', phase: 'waiting', startedAt: null }));
  await k.idle();
  assert.deepEqual(h.writes, []);
  k.update(status());
  k.update(status());
  await k.idle();
  assert.deepEqual(h.ensured, [`${cred} localhost:34600`]);
  assert.deepEqual(h.writes, [{ active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', server: cred }]);
  // its own write seen as a change: nothing
  k.connChanged();
  await k.idle();
  assert.equal(h.writes.length, 1);
});

test('keeper: user settings refuse the definition → the conn names none', async () => {
  const h = fakeHost({ sm: true, smRefuses: true });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  k.update(status());
  await k.idle();
  assert.deepEqual(h.writes, [{ active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' }]);
});

test('keeper: a false 3 s after ready is undone once; a second one is left and explained', async () => {
  const right = { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', password: 'SYS' };
  const h = fakeHost({ conn: right });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  h.now = 0;
  k.update(status());
  await k.idle();
  assert.deepEqual(h.writes, []);
  h.now = 3000;
  h.conn = { ...right, active: false };
  k.connChanged();
  await k.idle();
  assert.deepEqual(h.writes, [right]);
  h.now = 5000;
  h.conn = { ...right, active: false };
  k.connChanged();
  await k.idle();
  assert.equal(h.writes.length, 1);
  assert.equal(k.nudge.offReason, 'spent');
  // Retry: the user's, whatever the budget; the conn is off, so turning it on is the change
  assert.equal(await k.retry(), true);
  assert.deepEqual(h.writes, [right, right]);
  assert.equal(k.nudge.offReason, undefined);
});

test('keeper: Retry on a conn that is right and on writes it off and on (the ObjectScript extension checks on every change)', async () => {
  const right = { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', password: 'SYS' };
  const h = fakeHost({ conn: right });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  assert.equal(await k.retry(), false, 'not before IRIS is ready');
  k.update(status());
  await k.idle();
  assert.equal(await k.retry(), true);
  assert.deepEqual(h.writes, [{ ...right, active: false }, right]);
});

test('keeper: a server of the user\'s on another port: warned, never edited; "use this project\'s port" replaces it', async () => {
  const h = fakeHost({ conn: { active: true, server: 'dev-box', ns: 'USER' }, servers: { 'dev-box': { host: 'localhost', port: 52773 } }, sm: true });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  k.update(status());
  await k.idle();
  assert.deepEqual(h.writes, []);
  assert.deepEqual(k.serverWarning, { server: 'dev-box', host: 'localhost', port: 52773 });
  // the user moves the definition to this project's port: no warning
  h.servers['dev-box'] = { host: 'localhost', port: 34600 };
  k.connChanged();
  await k.idle();
  assert.equal(k.serverWarning, undefined);
  h.servers['dev-box'] = { host: 'localhost', port: 52773 };
  k.connChanged();
  await k.idle();
  assert.deepEqual(k.serverWarning, { server: 'dev-box', host: 'localhost', port: 52773 });
  assert.deepEqual(h.writes, []);
  await k.useProjectPort();
  assert.deepEqual(h.writes, [{ ns: 'USER', active: true, host: 'localhost', port: 34600, username: '_SYSTEM', server: cred }]);
  assert.equal(k.serverWarning, undefined);
  assert.deepEqual(h.ensured, [`${cred} localhost:34600`]);
});

test('keeper: a compose conn on the pinned port moves with one notice; a port move writes the new port at the next ready', async () => {
  const ports = (web: number) => [{ service: 'iris', containerPort: 52773, protocol: 'tcp', hostPort: web, hostIP: '127.0.0.1', pinnedHostPort: 52773, state: 'running' }];
  const h = fakeHost({ conn: { active: true, host: 'localhost', port: 52773, ns: 'USER', username: '_SYSTEM', password: 'SYS' } });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  k.update(status({ kind: 'compose', irisService: 'iris', ports: ports(34600) }));
  await k.idle();
  assert.deepEqual(h.writes, [{ active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', password: 'SYS' }]);
  assert.deepEqual(h.notices, ["pinned: IRIS Helper moved objectscript.conn of proj from port 52773 (the compose file's fixed web port) to 34600, the port this project's IRIS has on this machine; 52773 may be another project's IRIS. (Shown once.)"]);
  k.update(status({ state: 'starting', startedAt: null, webPort: 34602, kind: 'compose', irisService: 'iris', ports: ports(34602) }));
  k.update(status({ startedAt: '2026-12-01T11:00:00Z', webPort: 34602, kind: 'compose', irisService: 'iris', ports: ports(34602) }));
  await k.idle();
  assert.deepEqual(h.writes.map((w) => w.port), [34600, 34602]);
});

test('keeper: a settings file that leads out of the folder is refused through the host, never thrown', async () => {
  const h = fakeHost({ refuse: true });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  k.update(status());
  await k.idle();
  assert.deepEqual(h.refused, ['/home/me/proj/.vscode leads to /etc/x, outside the folder /home/me/proj']);
  assert.deepEqual(h.writes, []);
});

test('keeper: a port move waiting for a restart keeps the conn and the definition on the port IRIS serves; the restart moves them once', async () => {
  const h = fakeHost({ sm: true });
  const k = new ConnKeeper(h.host, (e) => assert.fail(String(e)));
  const pair = (ss: number, web: number) => [
    { service: '', containerPort: 1972, protocol: 'tcp', hostPort: ss, hostIP: '127.0.0.1', pinnedHostPort: 0, state: 'running' },
    { service: '', containerPort: 52773, protocol: 'tcp', hostPort: web, hostIP: '127.0.0.1', pinnedHostPort: 0, state: 'running' },
  ];
  k.update(status({ ports: pair(34601, 34600) }));
  await k.idle();
  // .env asked for 34602: the assignment moved, the container still serves 34600
  k.update(status({ webPort: 34602, restartNeeded: true, ports: pair(34601, 34600) }));
  await k.idle();
  assert.deepEqual(h.ensured, [`${cred} localhost:34600`]);
  assert.deepEqual(h.writes.map((w) => w.port), [34600]);
  // the restart's ready status: a new start on the new port, one write
  k.update(status({ webPort: 34602, startedAt: '2026-12-01T10:05:00Z', ports: pair(34601, 34602) }));
  await k.idle();
  assert.deepEqual(h.ensured, [`${cred} localhost:34600`, `${cred} localhost:34602`]);
  assert.deepEqual(h.writes.map((w) => w.port), [34600, 34602]);
});
