// The Go ↔ TypeScript contract: every golden protocol object written by the Go types is accepted
// by the extension's guard, and has exactly the fields the TypeScript type names (a field the Go
// side adds or renames fails here until protocol.ts follows).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  Methods, startParamsFields, assignmentFields, errorDataFields, initializationOptionsFields, initializeResultFields, irisStates, isErrorData, isInitializationOptions,
  isInitializeResult, isPortEntry, isPortsResult, isRestartParams, isStatus, isStopParams, portEntryFields, portsResultFields, restartParamsFields, statusFields, stopParamsFields,
  type HelperInitializeResult,
} from '../../src/core/protocol';
import { protocolGoldenDir, readGolden } from './golden';

const sorted = (o: object) => Object.keys(o).sort();

// Fields the Go side adds in this session (initializationOptions.dockerPath): optional in the
// guards and here until the goldens carry them.
// extraPorts: absent from an assignment without extra ports (omitempty), so optional for good.
const pending = new Set<string>(['dockerPath', 'extraPorts']);
/** The keys of a golden object, with the pending ones the golden does not have yet added. */
const withPending = (v: object, fields: object) => [...Object.keys(v), ...Object.keys(fields).filter((k) => pending.has(k) && !(k in v))].sort();

const cases: { file: string; guard: (v: unknown) => boolean; fields: object }[] = [
  { file: 'status.json', guard: isStatus, fields: statusFields },
  { file: 'port-entry.json', guard: isPortEntry, fields: portEntryFields },
  { file: 'ports-result.json', guard: isPortsResult, fields: portsResultFields },
  { file: 'initialize-result.json', guard: isInitializeResult, fields: initializeResultFields },
  { file: 'initialize-result-commands.json', guard: isInitializeResult, fields: initializeResultFields },
  { file: 'initialization-options.json', guard: isInitializationOptions, fields: initializationOptionsFields },
  { file: 'stop-params.json', guard: isStopParams, fields: stopParamsFields },
  { file: 'restart-params.json', guard: isRestartParams, fields: restartParamsFields },
  { file: 'error-data.json', guard: isErrorData, fields: errorDataFields },
];

test('every golden file is checked here', () => {
  assert.deepEqual(fs.readdirSync(protocolGoldenDir).filter((f) => f.endsWith('.json')).sort(), [...cases.map((c) => c.file), 'methods.json'].sort());
});

/** testdata/protocol/methods.json: the helper's method table (rpc/methods.go). */
interface MethodList {
  requests: { method: string; command?: string }[];
  helperSends: string[];
}

test('Methods names exactly the iris/* requests of the method table, and the status notification the helper sends', () => {
  const list = readGolden('methods.json') as MethodList;
  const { statusNotification, ...requests } = Methods;
  assert.deepEqual(Object.values(requests).sort(), list.requests.map((r) => r.method).filter((m) => m.startsWith('iris/')).sort());
  assert.ok(list.helperSends.includes(statusNotification), `${statusNotification} is not in ${JSON.stringify(list.helperSends)}`);
});

test('the initialize result advertises the commands of the method table, in its order', () => {
  const list = readGolden('methods.json') as MethodList;
  const commands = list.requests.flatMap((r) => (r.command ? [r.command] : []));
  const result = readGolden('initialize-result-commands.json') as HelperInitializeResult;
  assert.deepEqual(result.capabilities.executeCommandProvider?.commands, commands);
});

for (const c of cases) {
  test(`${c.file}: the guard accepts it, and it has exactly the fields of the TypeScript type`, () => {
    const v = readGolden(c.file);
    assert.equal(c.guard(v), true);
    assert.deepEqual(withPending(v as object, c.fields), sorted(c.fields));
  });
}

test('the status inside initialize-result.json and error-data.json has every Status field', () => {
  for (const file of ['initialize-result.json', 'error-data.json']) {
    const v = readGolden(file) as { status: object };
    assert.deepEqual(withPending(v.status, statusFields), sorted(statusFields), file);
  }
});

test('a port entry is an assignment plus containerState, state and ports', () => {
  assert.deepEqual(sorted(portEntryFields), [...sorted(assignmentFields), 'containerState', 'state', 'ports'].sort());
});

test('the compose entry of ports-result.json carries its extra ports and every published port', () => {
  const r = readGolden('ports-result.json') as { assignments: unknown[] };
  assert.ok(isPortsResult(r));
  const shop = r.assignments[1] as unknown as Record<string, unknown>;
  assert.ok(isPortEntry(shop));
  assert.deepEqual(shop.extraPorts, [
    { key: 'iris/53773/tcp', port: 12000, assignedAt: '2026-11-26T16:41:00Z' },
    { key: 'web/80/tcp', port: 12001, assignedAt: '2026-11-26T16:41:00Z' },
  ]);
  assert.deepEqual(shop.ports, [
    { service: 'iris', containerPort: 1972, protocol: 'tcp', hostPort: 1972, hostIP: '127.0.0.1', pinnedHostPort: 0, state: 'running' },
    { service: 'iris', containerPort: 52773, protocol: 'tcp', hostPort: 52773, hostIP: '127.0.0.1', pinnedHostPort: 52773, state: 'running' },
    { service: 'iris', containerPort: 53773, protocol: 'tcp', hostPort: 12000, hostIP: '127.0.0.1', pinnedHostPort: 0, state: 'running' },
    { service: 'web', containerPort: 80, protocol: 'tcp', hostPort: 12001, hostIP: '127.0.0.1', pinnedHostPort: 8080, state: 'running' },
  ]);
  assert.equal(isPortEntry({ ...shop, ports: [{ service: 'web' }] }), false);
  assert.equal(isPortEntry({ ...shop, extraPorts: [{ key: 'web/80/tcp' }] }), false);
  const { ports: _p, ...noPorts } = shop;
  assert.equal(isPortEntry(noPorts), false);
});

test('every value of the golden status is read as the field says', () => {
  const s = readGolden('status.json');
  assert.ok(isStatus(s));
  assert.deepEqual({ ...s }, {
    project: '/home/ada/src/orders', isIrisProject: true, state: 'ready', superserverPort: 1973, webPort: 52774,
    bindAddress: '127.0.0.2', host: '127.0.0.2', namespace: 'APP', username: 'dev',
    kind: 'compose', composeProject: 'orders', irisService: 'iris',
    ports: [
      { service: 'iris', containerPort: 1972, protocol: 'tcp', hostPort: 1972, hostIP: '127.0.0.2', pinnedHostPort: 1972, state: 'running' },
      { service: 'iris', containerPort: 52773, protocol: 'tcp', hostPort: 52773, hostIP: '127.0.0.2', pinnedHostPort: 52773, state: 'running' },
      { service: 'iris', containerPort: 53773, protocol: 'tcp', hostPort: 12000, hostIP: '127.0.0.2', pinnedHostPort: 0, state: 'running' },
      { service: 'web', containerPort: 80, protocol: 'tcp', hostPort: 12001, hostIP: '127.0.0.2', pinnedHostPort: 8080, state: 'exited' },
    ],
    container: 'orders-iris-1',
    image: 'containers.intersystems.com/intersystems/iris-community:latest-em', startedAt: '2026-11-26T16:40:12Z', exitCode: null,
    phase: '', envFile: '/home/ada/src/orders/.env', restartNeeded: true, message: 'the container still uses 1972/52773; restart to use 1973/52774',
  });
  assert.ok(irisStates.includes(s.state));
});

test('the guards refuse a field of the wrong type or a missing one', () => {
  const s = readGolden('status.json') as Record<string, unknown>;
  assert.equal(isStatus({ ...s, host: 1 }), false);
  assert.equal(isStatus({ ...s, state: 'running' }), false);
  assert.equal(isStatus({ ...s, kind: 'podman' }), false);
  assert.equal(isStatus({ ...s, ports: [{ service: 'iris' }] }), false);
  const { namespace: _ns, ...noNamespace } = s;
  assert.equal(isStatus(noNamespace), false);
  assert.equal(isPortEntry({ ...(readGolden('port-entry.json') as object), slot: 'one' }), false);
  assert.equal(isInitializationOptions({ ...(readGolden('initialization-options.json') as object), commandProvider: true }), false);
  assert.equal(isStatus({ ...s, kind: 'helm' }), false);
  assert.equal(isStatus({ ...s, phase: 'building' }), true);
  assert.equal(isStatus({ ...s, ports: [{ service: 'iris', containerPort: 52773, protocol: 'tcp', hostPort: 52774, hostIP: '127.0.0.1', pinnedHostPort: 52773 }] }), false);
});

test('the compose fields of a status are read as the brief names them', () => {
  const s = readGolden('status.json') as Record<string, unknown>;
  const compose = {
    ...s, kind: 'compose', composeProject: 'orders', irisService: 'iris',
    ports: [
      { service: 'iris', containerPort: 52773, protocol: 'tcp', hostPort: 52774, hostIP: '127.0.0.2', pinnedHostPort: 52773, state: 'running' },
      { service: 'web', containerPort: 80, protocol: 'tcp', hostPort: 34080, hostIP: '127.0.0.2', pinnedHostPort: 0, state: 'running' },
    ],
  };
  assert.equal(isStatus(compose), true);
  assert.deepEqual(Object.keys(startParamsFields), ['build', 'allow']);
});
