import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { renderStatus, escapeMarkdown, isRunning, pickerDescription, portalUrl, type StatusViewInput } from '../../src/core/statusView';
import type { Status } from '../../src/core/protocol';

const folderUri = 'file:///home/me/proj';

function status(over: Partial<Status> = {}): Status {
  return {
    project: '/home/me/proj', isIrisProject: true, state: 'ready', superserverPort: 1973, webPort: 52774,
    bindAddress: '127.0.0.1', host: 'localhost', namespace: 'USER', username: '_SYSTEM', kind: 'image', composeProject: '', irisService: '', ports: [], container: 'iris_ab12cd34_1973', image: 'intersystemsdc/iris-community:latest',
    startedAt: '2026-11-26T10:00:00Z', exitCode: null, phase: '', envFile: '/home/me/proj/.env',
    restartNeeded: false, message: '', ...over,
  };
}

function input(s: Status | undefined, over: Partial<StatusViewInput> = {}): StatusViewInput {
  return { folderName: 'proj', folderUri, multiRoot: false, clientState: 'running', status: s, ...over };
}

test('status -> text, background and click', () => {
  const cases: { name: string; s: Partial<Status>; text: string; bg: string | undefined; click: string | undefined }[] = [
    { name: 'ready', s: {}, text: '$(database) IRIS :1973', bg: undefined, click: 'irisHelper.stop' },
    { name: 'starting', s: { state: 'starting', phase: 'waiting' }, text: '$(sync~spin) IRIS starting…', bg: undefined, click: undefined },
    { name: 'stopping', s: { state: 'stopping' }, text: '$(sync~spin) IRIS stopping…', bg: undefined, click: undefined },
    { name: 'stopped', s: { state: 'stopped', exitCode: 0 }, text: '$(debug-stop) IRIS stopped', bg: undefined, click: 'irisHelper.start' },
    { name: 'not created, IRIS project', s: { state: 'not-created', container: '' }, text: '$(debug-stop) IRIS stopped', bg: undefined, click: 'irisHelper.start' },
    { name: 'unhealthy', s: { state: 'unhealthy' }, text: '$(warning) IRIS :1973 unhealthy', bg: 'warning', click: 'irisHelper.stop' },
    { name: 'error', s: { state: 'error', message: 'port 1973 is taken' }, text: '$(error) IRIS error', bg: 'error', click: 'irisHelper.start' },
    { name: 'engine down', s: { state: 'docker-unavailable' }, text: '$(error) IRIS: Docker unreachable', bg: 'error', click: 'irisHelper.start' },
    { name: 'restart needed', s: { restartNeeded: true }, text: '$(debug-restart) IRIS: restart needed', bg: 'warning', click: 'irisHelper.restart' },
    { name: 'restart needed but stopped', s: { state: 'stopped', restartNeeded: true }, text: '$(debug-stop) IRIS stopped', bg: undefined, click: 'irisHelper.start' },
  ];
  for (const c of cases) {
    const v = renderStatus(input(status(c.s)));
    assert.equal(v.visible, true, c.name);
    assert.equal(v.text, c.text, c.name);
    assert.equal(v.background, c.bg, c.name);
    assert.equal(v.command?.id, c.click, c.name);
    if (v.command) assert.deepEqual(v.command.args, [folderUri], c.name);
    assert.ok(v.accessibilityLabel.endsWith(', proj'), c.name);
  }
});

test('multi-root names the folder', () => {
  const v = renderStatus(input(status(), { multiRoot: true }));
  assert.equal(v.text, '$(database) IRIS :1973 (proj)');
});

test('hidden before the first status and for a folder that is no IRIS project', () => {
  assert.equal(renderStatus(input(undefined)).visible, false);
  assert.equal(renderStatus(input(status({ isIrisProject: false, state: 'not-created', superserverPort: 0, webPort: 0 }))).visible, false);
  // started on purpose: shown
  assert.equal(renderStatus(input(status({ isIrisProject: false }))).visible, true);
});

test('helper failure and stopped client are errors that open the log', () => {
  const failed = renderStatus(input(undefined, { clientState: 'stopped', clientError: 'The bundled IRIS helper is missing; set irisHelper.helperPath' }));
  assert.equal(failed.visible, true);
  assert.equal(failed.background, 'error');
  assert.equal(failed.command?.id, 'irisHelper.showLog');
  assert.match(failed.tooltip, /irisHelper\\\.helperPath/);
  const stopped = renderStatus(input(status(), { clientState: 'stopped' }));
  assert.equal(stopped.text, '$(error) IRIS helper stopped');
});

test('tooltip shows project, ports, container, image and command links for the folder', () => {
  const v = renderStatus(input(status()));
  assert.match(v.tooltip, /\*\*IRIS: ready\*\*/);
  assert.match(v.tooltip, /Project: `\/home\/me\/proj`/);
  assert.match(v.tooltip, /Superserver port: \*\*1973\*\* · Web port: \*\*52774\*\* on 127\\\.0\\\.0\\\.1/);
  assert.match(v.tooltip, /Container: `iris_ab12cd34_1973`/);
  assert.match(v.tooltip, /Image: `intersystemsdc\/iris-community:latest`/);
  const arg = encodeURIComponent(JSON.stringify([folderUri]));
  for (const id of ['irisHelper.stop', 'irisHelper.restart', 'irisHelper.openManagementPortal', 'irisHelper.showPorts', 'irisHelper.showLog']) {
    assert.ok(v.tooltip.includes(`(command:${id}?${arg})`), id);
  }
  assert.ok(!v.tooltip.includes('command:irisHelper.start?'), 'no Start link while running');
  assert.match(v.tooltip, /http:\/\/localhost:52774\/csp\/sys\/UtilHome\.csp/);

  const stopped = renderStatus(input(status({ state: 'stopped', exitCode: 137 })));
  assert.ok(stopped.tooltip.includes('command:irisHelper.start?'));
  assert.match(stopped.tooltip, /Exit code: 137/);
  assert.match(renderStatus(input(status({ state: 'starting', phase: 'pulling' }))).tooltip, /IRIS: starting \\\(pulling\\\)/);
});

test('helper text is escaped in the Markdown tooltip', () => {
  const v = renderStatus(input(status({ state: 'error', message: 'see [this](command:workbench.action.terminal.new) *now*' })));
  assert.ok(!v.tooltip.includes('[this](command:workbench'), v.tooltip);
  assert.equal(escapeMarkdown('a*b_[c]'), 'a\\*b\\_\\[c\\]');
});

test('the Management Portal is there only while IRIS runs with a web port', () => {
  const states: Status['state'][] = ['not-created', 'stopped', 'starting', 'ready', 'unhealthy', 'stopping', 'error', 'docker-unavailable'];
  assert.deepEqual(states.filter((state) => isRunning(status({ state }))), ['ready', 'unhealthy']);
  assert.deepEqual(states.map((state) => portalUrl(status({ state }))), [
    undefined, undefined, undefined, 'http://localhost:52774/csp/sys/UtilHome.csp', 'http://localhost:52774/csp/sys/UtilHome.csp',
    undefined, undefined, undefined,
  ]);
  assert.equal(portalUrl(status({ webPort: 0 })), undefined);
  // the status' host, never a hard-coded localhost (a port published on 127.0.0.2 does not answer there)
  assert.equal(portalUrl(status({ bindAddress: '127.0.0.2', host: '127.0.0.2' })), 'http://127.0.0.2:52774/csp/sys/UtilHome.csp');
  assert.equal(portalUrl(status({ bindAddress: 'fd00::5', host: 'fd00::5' })), 'http://[fd00::5]:52774/csp/sys/UtilHome.csp');
});

test('the folder picker describes a folder by its status-bar text, without the folder name', () => {
  const f = { name: 'proj', uri: folderUri, clientState: 'running' as const };
  assert.equal(pickerDescription({ ...f, status: status() }), '$(database) IRIS :1973');
  assert.equal(pickerDescription({ ...f, status: status({ state: 'stopped' }) }), '$(debug-stop) IRIS stopped');
  assert.equal(pickerDescription({ ...f, clientState: 'stopped', status: status() }), '$(error) IRIS helper stopped');
  assert.equal(pickerDescription({ ...f, status: status({ isIrisProject: false, state: 'not-created' }) }), '');
  assert.equal(pickerDescription(f), '');
});

const composeStatus = (over: Partial<Status> = {}) => status({
  kind: 'compose', composeProject: 'template-3f2a', irisService: 'iris', container: 'template-3f2a-iris-1', image: 'template-iris',
  ports: [
    { service: 'web', containerPort: 80, protocol: 'tcp', hostPort: 34080, hostIP: '127.0.0.1', pinnedHostPort: 8080, state: 'running' },
    { service: 'iris', containerPort: 52773, protocol: 'tcp', hostPort: 52774, hostIP: '127.0.0.1', pinnedHostPort: 52773, state: 'running' },
    { service: 'iris', containerPort: 1972, protocol: 'tcp', hostPort: 1973, hostIP: '127.0.0.1', pinnedHostPort: 0, state: 'running' },
  ],
  ...over,
});

test('a compose project: building, and the whole tooltip with every published port, Rebuild, the ObjectScript line and Retry', () => {
  const building = renderStatus(input(composeStatus({ state: 'starting', phase: 'building' })));
  assert.equal(building.text, '$(sync~spin) IRIS building…');
  assert.equal(building.accessibilityLabel, 'IRIS building, proj');
  assert.equal(building.command, undefined);
  const arg = encodeURIComponent(JSON.stringify([folderUri]));
  const v = renderStatus(input(composeStatus(), { objectScript: { text: 'ObjectScript: not connected — IRIS answered 401 for _SYSTEM (wrong password)', connected: false, retry: true } }));
  assert.equal(v.tooltip, [
    '**IRIS: ready** — proj  ',
    '',
    'Project: `/home/me/proj`  ',
    'Superserver port: **1973** · Web port: **52774** on 127\\.0\\.0\\.1  ',
    '',
    'Published ports:  ',
    '- `iris` 1972/tcp → 127\\.0\\.0\\.1:**1973**',
    '- `iris` 52773/tcp → 127\\.0\\.0\\.1:**52774** (compose file: 52773)',
    '- `web` 80/tcp → 127\\.0\\.0\\.1:**34080** (compose file: 8080)',
    '',
    'Compose project: `template-3f2a` · IRIS service: `iris`  ',
    'Container: `template-3f2a-iris-1`  ',
    'Image: `template-iris`  ',
    '.env: `/home/me/proj/.env`  ',
    '',
    '$(circle-slash) ObjectScript: not connected — IRIS answered 401 for \\_SYSTEM \\(wrong password\\) · ' + `[$(refresh) Retry](command:irisHelper.retryObjectScript?${arg})  `,
    '',
    '---',
    '',
    [`[$(debug-stop) Stop](command:irisHelper.stop?${arg})`, `[$(debug-restart) Restart](command:irisHelper.restart?${arg})`, `[$(tools) Rebuild](command:irisHelper.rebuild?${arg})`,
      `[$(globe) Management Portal](command:irisHelper.openManagementPortal?${arg})`, `[$(list-unordered) Show Ports](command:irisHelper.showPorts?${arg})`,
      `[$(output) Log](command:irisHelper.showLog?${arg})`].join(' · ') + '  ',
    '',
    'Portal: http://localhost:52774/csp/sys/UtilHome.csp  ',
  ].join('\n'));
  const connected = renderStatus(input(composeStatus(), { objectScript: { text: 'ObjectScript: connected as _SYSTEM to USER', connected: true, retry: false } }));
  assert.ok(connected.tooltip.includes('\n$(check) ObjectScript: connected as \\_SYSTEM to USER  \n'), connected.tooltip);
  assert.ok(!connected.tooltip.includes('retryObjectScript'));
  // the ObjectScript line only while IRIS runs
  assert.ok(!renderStatus(input(composeStatus({ state: 'stopped' }), { objectScript: { text: 'x', connected: false, retry: true } })).tooltip.includes('retryObjectScript'));
  // not installed: said, with no Retry
  const missing = renderStatus(input(composeStatus(), { objectScript: { text: 'ObjectScript: the InterSystems ObjectScript extension is not installed', connected: false, retry: false } }));
  assert.ok(missing.tooltip.includes('\n$(circle-slash) ObjectScript: the InterSystems ObjectScript extension is not installed  \n'), missing.tooltip);
  assert.ok(!missing.tooltip.includes('retryObjectScript'));
  // stopped: Start and Rebuild
  const stopped = renderStatus(input(composeStatus({ state: 'stopped' })));
  assert.ok(stopped.tooltip.includes(`[$(debug-start) Start](command:irisHelper.start?${arg}) · [$(tools) Rebuild](command:irisHelper.rebuild?${arg})`));
  // the image kind has no Rebuild
  assert.ok(!renderStatus(input(status())).tooltip.includes('irisHelper.rebuild'));
});

test('a server on another port: the tooltip warns and offers to write this project\'s port into the folder\'s conn', () => {
  const arg = encodeURIComponent(JSON.stringify([folderUri]));
  const v = renderStatus(input(status(), { serverWarning: { server: 'dev-box', host: 'localhost', port: 52773 } }));
  assert.ok(v.tooltip.includes('\n$(warning) objectscript.conn uses the server "dev\\-box" (a Server Manager definition, left as it is), whose web port 52773 is not this project\'s 52774. ' +
    `[Use this project's port in this folder's conn](command:irisHelper.useProjectPort?${arg})  \n`), v.tooltip);
});
