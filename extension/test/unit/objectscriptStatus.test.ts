import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { classifyRequestError, classifyServerInfo, notInstalledMessage, objectScriptLine, type ObjectScriptViewInput } from '../../src/core/objectscriptStatus';

const version = 'IRIS for UNIX (Ubuntu Server LTS for x86-64 Containers) 2025.1 (Build 223U) Tue Mar 11 2025 18:14:42 EDT';
const info = (over: object = {}) => ({ status: { errors: [], summary: '' }, console: [], result: { content: { version, id: 'x', api: 8, features: [], namespaces: ['%SYS', 'USER'], ...over } } });

test('GET /api/atelier/ server info -> ok, namespace missing, not IRIS, error', () => {
  assert.deepEqual(classifyServerInfo(info(), 'user'), { kind: 'ok', version, namespaces: ['%SYS', 'USER'] });
  assert.deepEqual(classifyServerInfo(info(), 'APP'), { kind: 'namespace-missing', namespace: 'APP', namespaces: ['%SYS', 'USER'] });
  assert.deepEqual(classifyServerInfo(info({ api: 0 }), 'USER'), { kind: 'not-iris', detail: 'GET /api/atelier/ did not answer with IRIS server information' });
  assert.deepEqual(classifyServerInfo({ hello: 'nginx' }, 'USER'), { kind: 'not-iris', detail: 'GET /api/atelier/ did not answer with IRIS server information' });
  assert.deepEqual(classifyServerInfo({ ...info(), status: { summary: 'ERROR #5001' } }, 'USER'), { kind: 'error', detail: 'ERROR #5001' });
});

test('request errors -> refused, timeout, error', () => {
  const e = (code: string) => Object.assign(new Error(code), { code });
  assert.deepEqual(classifyRequestError(e('ECONNREFUSED'), 'localhost', 34600, 5000), { kind: 'refused', host: 'localhost', port: 34600 });
  assert.deepEqual(classifyRequestError(e('ECONNRESET'), 'localhost', 34600, 5000), { kind: 'refused', host: 'localhost', port: 34600 });
  assert.deepEqual(classifyRequestError(e('ABORT_ERR'), 'localhost', 34600, 5000), { kind: 'timeout', host: 'localhost', port: 34600, ms: 5000 });
  assert.deepEqual(classifyRequestError(e('EHOSTUNREACH'), 'localhost', 34600, 5000), { kind: 'error', detail: 'EHOSTUNREACH' });
});

test('the ObjectScript line of the tooltip and Show Ports, whole', () => {
  const base: ObjectScriptViewInput = {
    installed: true, host: 'localhost', webPort: 34600,
    api: { serverName: '', active: true, host: 'localhost', port: 34600, username: '_SYSTEM', namespace: 'USER', apiVersion: 8, serverVersion: version },
    probe: { kind: 'ok', version, namespaces: ['%SYS', 'USER'] },
  };
  const cases: { name: string; v: Partial<ObjectScriptViewInput>; text: string; connected?: boolean; retry?: boolean }[] = [
    { name: 'connected', v: {}, text: 'ObjectScript: connected as _SYSTEM to USER', connected: true, retry: false },
    { name: 'not installed', v: { installed: false }, text: 'ObjectScript: the InterSystems ObjectScript extension is not installed', retry: false },
    { name: 'API not answered yet', v: { api: undefined }, text: 'ObjectScript: checking…' },
    { name: 'probe not ended yet', v: { probe: undefined }, text: 'ObjectScript: checking…' },
    { name: '401 without a password', v: { probe: { kind: 'unauthorized', username: '_SYSTEM', hadPassword: false } }, text: 'ObjectScript: not connected — IRIS answered 401 for _SYSTEM (no password in objectscript.conn or its server definition)' },
    { name: '401 with a password', v: { probe: { kind: 'unauthorized', username: '_SYSTEM', hadPassword: true } }, text: 'ObjectScript: not connected — IRIS answered 401 for _SYSTEM (wrong password)' },
    { name: 'refused', v: { probe: { kind: 'refused', host: 'localhost', port: 34600 } }, text: 'ObjectScript: not connected — nothing answers on localhost:34600 (connection refused)' },
    { name: 'timeout', v: { probe: { kind: 'timeout', host: 'localhost', port: 34600, ms: 5000 } }, text: 'ObjectScript: not connected — IRIS did not answer /api/atelier/ on localhost:34600 within 5 s' },
    { name: 'namespace missing', v: { api: { ...base.api, namespace: 'APP' }, probe: { kind: 'namespace-missing', namespace: 'APP', namespaces: ['%SYS', 'USER'] } }, text: 'ObjectScript: not connected — IRIS has no namespace APP (it has %SYS, USER)' },
    { name: 'another port', v: { api: { ...base.api, port: 52773 } }, text: "ObjectScript: not connected — it uses localhost:52773, not this project's web port 34600" },
    { name: 'off', v: { api: { ...base.api, active: false } }, text: 'ObjectScript: not connected — objectscript.conn is off ("active": false)' },
    { name: 'off, left so', v: { api: { ...base.api, active: false }, offText: 'objectscript.conn was turned off ("active": false) more than 60 s after IRIS was ready, so IRIS Helper leaves it off: x' }, text: 'ObjectScript: not connected — objectscript.conn was turned off ("active": false) more than 60 s after IRIS was ready, so IRIS Helper leaves it off: x' },
  ];
  for (const c of cases) {
    assert.deepEqual(objectScriptLine({ ...base, ...c.v }), { text: c.text, connected: c.connected ?? false, retry: c.retry ?? true }, c.name);
  }
});

test('the not-installed notice, whole', () => {
  assert.equal(notInstalledMessage,
    "IRIS Helper: the InterSystems ObjectScript extension is not installed. objectscript.conn is kept pointing at this project's IRIS for when you install it. (Shown once per workspace.)");
});

test('the probe: HEAD with Basic auth, then GET with the session cookie and no Authorization, as the ObjectScript extension does', async () => {
  const { probeAtelier } = require('../../src/core/atelierProbe') as typeof import('../../src/core/atelierProbe');
  const target = { host: 'localhost', port: 34600, username: '_SYSTEM', password: 'SYS', namespace: 'USER' };
  const seen: string[] = [];
  const ok = await probeAtelier(target, 5000, async (_t, method, headers) => {
    seen.push(`${method} ${JSON.stringify(headers)}`);
    return method === 'HEAD'
      ? { status: 200, cookies: ['CSPSESSIONID-SP-34600-UP-api-atelier-=abc'], body: '' }
      : { status: 200, cookies: [], body: JSON.stringify(info()) };
  });
  assert.deepEqual(ok, { kind: 'ok', version, namespaces: ['%SYS', 'USER'] });
  assert.deepEqual(seen, [
    `HEAD {"Authorization":"Basic ${Buffer.from('_SYSTEM:SYS').toString('base64')}"}`,
    'GET {"Cookie":"CSPSESSIONID-SP-34600-UP-api-atelier-=abc"}',
  ]);
  assert.deepEqual(await probeAtelier({ ...target, password: undefined }, 5000, async () => ({ status: 401, cookies: [], body: '' })),
    { kind: 'unauthorized', username: '_SYSTEM', hadPassword: false });
  assert.deepEqual(await probeAtelier(target, 5000, async () => { throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:34600'), { code: 'ECONNREFUSED' }); }),
    { kind: 'refused', host: 'localhost', port: 34600 });
  assert.deepEqual(await probeAtelier(target, 5000, async (_t, m) => (m === 'HEAD' ? { status: 200, cookies: [], body: '' } : { status: 200, cookies: [], body: '<html>' })),
    { kind: 'not-iris', detail: 'GET /api/atelier/ answered 200 without JSON' });
});

test('the probe goes to the bind address when it is one address, else to the host', () => {
  const { probeHost } = require('../../src/core/atelierProbe') as typeof import('../../src/core/atelierProbe');
  assert.equal(probeHost({ host: 'localhost', bindAddress: '127.0.0.1' }), '127.0.0.1');
  assert.equal(probeHost({ host: '127.0.0.2', bindAddress: '127.0.0.2' }), '127.0.0.2');
  assert.equal(probeHost({ host: 'localhost', bindAddress: '::1' }), '::1');
  assert.equal(probeHost({ host: 'localhost', bindAddress: '0.0.0.0' }), 'localhost');
  assert.equal(probeHost({ host: 'localhost', bindAddress: '::' }), 'localhost');
  assert.equal(probeHost({ host: 'localhost', bindAddress: '' }), 'localhost');
});
