import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { decideConn, foreignConnMessage, pinnedMovedMessage, pinnedWebPort, projectPortConn, type ConnDecision, type ObjectScriptConn, type WrittenConn } from '../../src/core/objectscriptConn';
import { isStatus, type PublishedPort } from '../../src/core/protocol';
import { readGolden } from './golden';

// host, namespace and username come from the helper's status (which applied the defaults)
const defaults = { webPort: 34600, host: 'localhost', namespace: 'USER', username: '_SYSTEM' };
const base = { enabled: true, status: defaults, written: undefined };

const port = (service: string, containerPort: number, hostPort: number, pinnedHostPort: number): PublishedPort =>
  ({ service, containerPort, protocol: 'tcp', hostPort, hostIP: '127.0.0.1', pinnedHostPort, state: 'running' });
/** A compose project whose file pins 52773:52773 and publishes 1972 at random; the registry gave 34600/34601. */
const compose = { ...defaults, irisService: 'iris', ports: [port('iris', 1972, 34601, 0), port('iris', 52773, 34600, 52773), port('web', 80, 34080, 8080)] };
const ourServer = 'iris-helper-proj-1a2b3c4d';
const isOurServer = (n: string) => n === ourServer;

test('the compose file pins the IRIS service\'s 52773 → that host port; nothing pinned, or no ports → 0', () => {
  assert.equal(pinnedWebPort(compose), 52773);
  assert.equal(pinnedWebPort({ ...compose, irisService: 'db' }), 0);
  assert.equal(pinnedWebPort({ irisService: 'iris', ports: [port('iris', 52773, 34600, 0)] }), 0);
  assert.equal(pinnedWebPort({}), 0);
});

test('every form of issue 12 §8, with and without a credential server: the whole decision', () => {
  const cases: { name: string; status?: typeof compose; current: ObjectScriptConn | undefined; written?: WrittenConn; cred?: string; want: ConnDecision }[] = [
    {
      name: 'none: the host/port form, never a password',
      current: undefined,
      want: { action: 'write', form: 'none', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' }, written: { host: 'localhost', port: 34600 }, moved: true },
    },
    {
      name: 'none, Server Manager there: the conn names iris-helper\'s definition',
      current: {}, cred: ourServer,
      want: { action: 'write', form: 'none', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', server: ourServer }, written: { host: 'localhost', port: 34600 }, moved: true },
    },
    {
      name: 'a conn with its own password (the templates commit "SYS") keeps it and names no server',
      current: { active: true, host: 'localhost', port: 34599, ns: 'USER', username: '_SYSTEM', password: 'SYS' }, written: { host: 'localhost', port: 34599 }, cred: ourServer,
      want: { action: 'write', form: 'hostPort', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', password: 'SYS' }, written: { host: 'localhost', port: 34600 }, moved: true },
    },
    {
      name: 'docker-compose: the object kept, host/port beside it, the user\'s ns/username/password kept',
      status: compose, current: { active: true, ns: 'APP', username: 'SuperUser', password: 'SYS', 'docker-compose': { service: 'iris', internalPort: 52773 } }, cred: ourServer,
      want: {
        action: 'write', form: 'compose', moved: true, written: { host: 'localhost', port: 34600 },
        conn: { active: true, ns: 'APP', username: 'SuperUser', password: 'SYS', 'docker-compose': { service: 'iris', internalPort: 52773 }, host: 'localhost', port: 34600 },
      },
    },
    {
      name: 'docker-compose without a password: names iris-helper\'s definition too (remote hosts use it; desktop keeps its compose lookup)',
      status: compose, current: { active: false, 'docker-compose': { service: 'iris', internalPort: 52773 }, host: 'localhost', port: 34599 }, cred: ourServer,
      want: {
        action: 'write', form: 'compose', moved: true, written: { host: 'localhost', port: 34600 },
        conn: { active: true, 'docker-compose': { service: 'iris', internalPort: 52773 }, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', server: ourServer },
      },
    },
    {
      name: 'docker-compose with host/port already right and on: unchanged',
      status: compose, current: { active: true, 'docker-compose': { service: 'iris' }, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', password: 'SYS' },
      want: { action: 'unchanged', form: 'compose' },
    },
    {
      name: 'host/port on the compose file\'s pinned web port: moved to the registry\'s, with the notice',
      status: compose, current: { active: true, host: 'localhost', port: 52773, ns: 'USER', username: '_SYSTEM', password: 'SYS' },
      want: { action: 'write', form: 'pinned', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', password: 'SYS' }, written: { host: 'localhost', port: 34600 }, moved: true, notice: { from: 52773 } },
    },
    {
      name: 'host/port on 52773 with no pin in the compose file: someone else\'s',
      status: { ...compose, ports: [port('iris', 52773, 34600, 0)] }, current: { host: 'localhost', port: 52773 },
      want: { action: 'foreign', reason: 'it points at localhost:52773' },
    },
    {
      name: 'a server that is not iris-helper\'s: never edited',
      current: { active: true, server: 'prod', ns: 'USER' }, cred: ourServer,
      want: { action: 'server', server: 'prod' },
    },
    {
      name: 'iris-helper\'s own server: its conn follows the port like host/port',
      current: { active: true, host: 'localhost', port: 34599, ns: 'USER', username: '_SYSTEM', server: ourServer }, written: { host: 'localhost', port: 34599 }, cred: ourServer,
      want: { action: 'write', form: 'hostPort', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', server: ourServer }, written: { host: 'localhost', port: 34600 }, moved: true },
    },
    {
      name: 'iris-helper\'s own server, right and on: unchanged (the definition is the caller\'s to update)',
      current: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM', server: ourServer }, cred: ourServer,
      want: { action: 'unchanged', form: 'hostPort' },
    },
    {
      name: 'right but off: written on (the nudge decides whether now)',
      current: { active: false, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' },
      want: { action: 'write', form: 'hostPort', conn: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' }, written: { host: 'localhost', port: 34600 }, moved: false },
    },
  ];
  for (const c of cases) {
    const got = decideConn({ ...base, status: c.status ?? defaults, current: c.current, written: c.written, isOurServer, credentialServer: c.cred });
    assert.deepEqual(got, c.want, c.name);
    if (got.action === 'write' && c.current?.password === undefined) assert.ok(!('password' in got.conn), c.name);
  }
});

test('host, namespace and username come from the status: bindAddress 127.0.0.2 (the golden status)', () => {
  const s = readGolden('status.json');
  assert.ok(isStatus(s));
  assert.equal(s.bindAddress, '127.0.0.2');
  const d = decideConn({ enabled: true, status: s, written: undefined, current: { ns: 'OLD', https: false } });
  assert.deepEqual(d, { action: 'write', form: 'none', conn: { ns: 'APP', https: false, active: true, host: '127.0.0.2', port: 52774, username: 'dev' }, written: { host: '127.0.0.2', port: 52774 }, moved: true });
  // written before at localhost (the old hard-coded host): ours, so it moves to the status' host
  const again = decideConn({ enabled: true, status: s, written: { host: 'localhost', port: 52774 }, current: { active: true, host: 'localhost', port: 52774, ns: 'APP', username: 'dev' } });
  assert.deepEqual(again, { action: 'write', form: 'hostPort', conn: { active: true, host: '127.0.0.2', port: 52774, ns: 'APP', username: 'dev' }, written: { host: '127.0.0.2', port: 52774 }, moved: true });
});

test("the user's other keys are kept; ns and username follow the status", () => {
  const d = decideConn({ ...base, current: { ns: 'MINE', username: 'me', https: false, links: { a: 'b' } } });
  assert.ok(d.action === 'write');
  assert.deepEqual(d.conn, { ns: 'USER', username: '_SYSTEM', https: false, links: { a: 'b' }, active: true, host: 'localhost', port: 34600 });
});

test('pointed elsewhere by the user: left alone', () => {
  const cases = [
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

test('off, or no port yet: skip', () => {
  assert.deepEqual(decideConn({ ...base, enabled: false, current: undefined }), { action: 'skip' });
  assert.deepEqual(decideConn({ ...base, status: { ...defaults, webPort: 0 }, current: undefined }), { action: 'skip' });
});

test('"use this project\'s port": the user\'s server replaced by host/port, the rest kept', () => {
  assert.deepEqual(projectPortConn({ active: true, server: 'prod', ns: 'APP', https: false }, defaults),
    { ns: 'USER', https: false, active: true, host: 'localhost', port: 34600, username: '_SYSTEM' });
  assert.deepEqual(projectPortConn(undefined, defaults), { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' });
});

test('the notices, whole', () => {
  assert.equal(foreignConnMessage('second-project', 'it points at iris.example.com:52773', 34601),
    'IRIS Helper left objectscript.conn of second-project alone: it points at iris.example.com:52773. ' +
    "This project's IRIS listens on web port 34601. (Shown once; turn off irisHelper.updateObjectScriptConnection to stop checking.)");
  assert.equal(pinnedMovedMessage('template', 52773, 34600),
    "IRIS Helper moved objectscript.conn of template from port 52773 (the compose file's fixed web port) to 34600, " +
    "the port this project's IRIS has on this machine; 52773 may be another project's IRIS. (Shown once.)");
});
