// TEST STAND-IN for the InterSystems ObjectScript extension (intersystems-community.vscode-objectscript),
// used only by iris-helper's e2e (extension/test/e2e/run.js): the real extension cannot be installed
// here. It copies the connection behaviour that issue 13 describes, read in the real extension's source
// and seen in a real run; nothing else of it:
// - it depends on Server Manager (its stand-in: ../fake-servermanager, which registers
//   intersystems.servers), as the real one does.
// - a check per workspace folder at activation and on every change of objectscript.conn: nothing when
//   conn.active is not true; else HEAD /api/atelier/ with Basic auth (username + password from the
//   conn, or from intersystems.servers[conn.server] when conn.server is set, with that definition's
//   webServer host/port), answered with a session cookie; then GET /api/atelier/ with that cookie and
//   no Authorization, whose JSON must have status.summary "", result.content.api > 0, a version in
//   IRIS form and the upper-case namespace in result.content.namespaces; then GET
//   /api/atelier/v{api}/%25SYS/cspapps/{NS} and two POST /api/atelier/v{api}/{NS}/action/query, whose
//   errors are ignored. A failed check (also a 401) writes objectscript.conn.active = false into the
//   folder's settings. A docker-compose object in the conn is ignored, as in any remote extension host
//   (code-server is one): host/port are used.
// - recovery on the next request (command objectscriptTest.request): ECONNREFUSED drops the cookie,
//   shows "Disconnected" and checks again after objectscriptTest.retrySeconds (the real one: 30 s);
//   a 401 retries once with Basic auth and checks again after 500 ms.
// - the exported API: serverForUri(uri), asyncServerForUri(uri), and onDidChangeConnection() (a
//   method returning an Event<void>).
// - a status bar item per folder: text "localhost:PORT[NS]", accessible name
//   "localhost:PORT[NS], Connected as user `_SYSTEM`"; failed: an error icon and "ERROR - <why>".
// - objectscriptTest.failNextCheck makes the next check fail as one that ran while IRIS was down.
// It never prompts (no input box, no dialog, no notification). Every check, result and request is
// appended as one JSON line to $OBJECTSCRIPT_TEST_LOG (never a password, never an Authorization header).
'use strict';
const vscode = require('vscode');
const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');

const LOG = process.env.OBJECTSCRIPT_TEST_LOG || '';
function event(name, fields) {
  if (!LOG) return;
  try {
    fs.appendFileSync(LOG, JSON.stringify({ time: new Date().toISOString(), event: name, ...fields }) + '\n');
  } catch {
    // the log is for the test only
  }
}

const REQUEST_TIMEOUT_MS = 10_000;
/** IRIS's version string, e.g. "IRIS for UNIX (Ubuntu Server LTS for x86-64 Containers) 2025.1 (Build 223U) Tue Mar 11 2025 18:14:42 EDT". */
const IRIS_VERSION = /^IRIS for .+ \d{4}\.\d+(\.\d+)* \(Build [^)]+\)/;

/** One HTTP request; resolves {status, headers, body}, rejects with the socket's error (err.code: ECONNREFUSED...). */
function httpRequest(target, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const lib = target.scheme === 'https' ? https : http;
    const req = lib.request({
      host: target.host, port: target.port, method, path: (target.pathPrefix || '') + path,
      headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      timeout: REQUEST_TIMEOUT_MS,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timeout after ${REQUEST_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body !== undefined ? JSON.stringify(body) : undefined);
  });
}

function basic(target) {
  if (typeof target.username !== 'string' || typeof target.password !== 'string') return {};
  return { Authorization: 'Basic ' + Buffer.from(`${target.username}:${target.password}`).toString('base64') };
}

function cookiesOf(res) {
  const set = res.headers['set-cookie'] || [];
  return set.map((c) => c.split(';')[0]).filter(Boolean);
}

class ConnError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** The connection state of one workspace folder. */
class FolderState {
  constructor(folder) {
    this.folder = folder;
    this.generation = 0;
    /** 'inactive' | 'checking' | 'connected' | 'failed' | 'disconnected' */
    this.state = 'inactive';
    this.error = '';
    this.cookies = [];
    this.apiVersion = 0;
    this.serverVersion = '';
    this.target = undefined;
    this.failNext = false;
    this.item = undefined;
    this.timer = undefined;
  }
}

/** The conn of a folder as the folder sees it, and the host/port/credentials it leads to. */
function resolveTarget(folder) {
  const conn = vscode.workspace.getConfiguration('objectscript', folder.uri).get('conn') || {};
  const out = {
    conn, active: conn.active === true, serverName: '', scheme: 'http', host: conn.host, port: conn.port, pathPrefix: '',
    username: conn.username, password: conn.password, namespace: String(conn.ns || 'USER').toUpperCase(),
    via: 'host/port', ignoredDockerCompose: conn['docker-compose'] !== undefined, problem: '',
  };
  if (typeof conn.server === 'string' && conn.server !== '') {
    out.serverName = conn.server;
    out.via = 'server';
    const servers = vscode.workspace.getConfiguration('intersystems', folder.uri).get('servers') || {};
    const def = servers[conn.server];
    if (!def || typeof def !== 'object' || !def.webServer) {
      out.problem = `server "${conn.server}" is not defined in intersystems.servers`;
      return out;
    }
    out.scheme = def.webServer.scheme || 'http';
    out.host = def.webServer.host;
    out.port = def.webServer.port;
    out.pathPrefix = def.webServer.pathPrefix || '';
    out.username = def.username;
    out.password = def.password;
  }
  if (!out.host || !out.port) out.problem = out.problem || 'no host and port in objectscript.conn';
  return out;
}

function describe(target) {
  return `${target.host}:${target.port}[${target.namespace}]`;
}

/** What is safe to log of a target (never the password). */
function loggable(target) {
  return {
    via: target.via, serverName: target.serverName, host: target.host, port: target.port, ns: target.namespace,
    username: target.username, hasPassword: typeof target.password === 'string', ignoredDockerCompose: target.ignoredDockerCompose,
  };
}

function activate(context) {
  const states = new Map();
  const changed = new vscode.EventEmitter();
  context.subscriptions.push(changed);

  const stateOf = (folder) => {
    let s = states.get(folder.uri.toString());
    if (!s) {
      s = new FolderState(folder);
      states.set(folder.uri.toString(), s);
    }
    return s;
  };
  const folderOf = (uri) => {
    const u = uri ? (typeof uri === 'string' ? vscode.Uri.parse(uri) : uri) : undefined;
    return (u && vscode.workspace.getWorkspaceFolder(u)) || (vscode.workspace.workspaceFolders || [])[0];
  };

  const show = (s) => {
    const target = s.target;
    if (!target || (!target.active && s.state !== 'failed')) {
      if (s.item) s.item.hide();
      return;
    }
    if (!s.item) {
      s.item = vscode.window.createStatusBarItem(`objectscriptTest.${s.folder.index}`, vscode.StatusBarAlignment.Left, 0);
      s.item.name = 'ObjectScript (test stand-in)';
      context.subscriptions.push(s.item);
    }
    const text = describe(target);
    switch (s.state) {
      case 'connected':
        s.item.text = text;
        s.item.accessibilityInformation = { label: `${text}, Connected as user \`${target.username}\`` };
        break;
      case 'failed':
        s.item.text = `$(error) ${text}`;
        s.item.accessibilityInformation = { label: `ERROR - ${s.error}` };
        break;
      case 'disconnected':
        s.item.text = `$(debug-disconnect) ${text}`;
        s.item.accessibilityInformation = { label: `${text}, Disconnected` };
        break;
      default:
        s.item.text = `$(sync~spin) ${text}`;
        s.item.accessibilityInformation = { label: `${text}, Checking connection` };
    }
    s.item.tooltip = s.item.accessibilityInformation.label;
    s.item.show();
  };

  const setState = (s, state, error = '') => {
    s.state = state;
    s.error = error;
    show(s);
    changed.fire();
  };

  /** The connection check (activation, conn change, Refresh, the retries of a request). */
  const check = async (folder, reason) => {
    const s = stateOf(folder);
    clearTimeout(s.timer);
    const gen = ++s.generation;
    const target = resolveTarget(folder);
    s.target = target;
    event('check', { folder: folder.uri.fsPath, reason, active: target.active, ...loggable(target) });
    if (!target.active) {
      s.cookies = [];
      s.apiVersion = 0;
      s.serverVersion = '';
      // after a failed check (which wrote active: false) the item keeps saying why
      if (s.state !== 'failed') setState(s, 'inactive');
      else changed.fire();
      return;
    }
    setState(s, 'checking');
    const forced = s.failNext;
    s.failNext = false;
    let info;
    try {
      if (target.problem) throw new ConnError(target.problem);
      if (forced) throw new ConnError(`connect ECONNREFUSED ${target.host}:${target.port} (forced by objectscriptTest.failNextCheck)`, 'ECONNREFUSED');
      info = await connect(s, target);
    } catch (err) {
      if (gen !== s.generation) return; // a later check took over
      const why = err instanceof ConnError ? err.message : `${err.code ? err.code + ': ' : ''}${err.message}`;
      s.cookies = [];
      s.apiVersion = 0;
      s.serverVersion = '';
      setState(s, 'failed', why);
      event('failed', { folder: folder.uri.fsPath, reason, error: why, forced, ...loggable(target) });
      await writeInactive(folder, target.conn);
      return;
    }
    if (gen !== s.generation) return;
    s.apiVersion = info.api;
    s.serverVersion = info.version;
    setState(s, 'connected');
    event('connected', { folder: folder.uri.fsPath, reason, apiVersion: info.api, serverVersion: info.version, ...loggable(target), api: serverForUri(folder.uri) });
    // the follow-up requests; their errors are ignored
    const ns = encodeURIComponent(target.namespace);
    const followUps = [
      ['GET', `/api/atelier/v${info.api}/%25SYS/cspapps/${ns}`, undefined],
      ['POST', `/api/atelier/v${info.api}/${ns}/action/query`, { query: 'SELECT 1', parameters: [] }],
      ['POST', `/api/atelier/v${info.api}/${ns}/action/query`, { query: 'SELECT 1', parameters: [] }],
    ];
    for (const [method, path, body] of followUps) {
      try {
        const res = await httpRequest(target, method, path, { Cookie: s.cookies.join('; ') }, body);
        event('follow-up', { folder: folder.uri.fsPath, method, path, status: res.status });
      } catch (err) {
        event('follow-up', { folder: folder.uri.fsPath, method, path, error: err.message });
      }
    }
  };

  /** HEAD with Basic auth (the cookie), then GET with the cookie; returns the server info or throws ConnError. */
  const connect = async (s, target) => {
    const head = await httpRequest(target, 'HEAD', '/api/atelier/', basic(target));
    if (head.status === 401) throw new ConnError(`HEAD /api/atelier/: 401 Unauthorized${typeof target.password === 'string' ? '' : ' (no password)'}`, 401);
    if (head.status < 200 || head.status >= 300) throw new ConnError(`HEAD /api/atelier/: ${head.status}`, head.status);
    s.cookies = cookiesOf(head);
    const get = await httpRequest(target, 'GET', '/api/atelier/', s.cookies.length ? { Cookie: s.cookies.join('; ') } : {});
    if (get.status === 401) throw new ConnError(`GET /api/atelier/ with the session cookie: 401 Unauthorized${s.cookies.length ? '' : ' (the HEAD answer set no cookie)'}`, 401);
    if (get.status < 200 || get.status >= 300) throw new ConnError(`GET /api/atelier/: ${get.status}`, get.status);
    let json;
    try {
      json = JSON.parse(get.body);
    } catch {
      throw new ConnError('GET /api/atelier/: the answer is not JSON');
    }
    const summary = json?.status?.summary;
    if (summary !== '') throw new ConnError(`GET /api/atelier/: status.summary is ${JSON.stringify(summary)}`);
    const content = json?.result?.content || {};
    if (!(typeof content.api === 'number' && content.api > 0)) throw new ConnError(`GET /api/atelier/: result.content.api is ${JSON.stringify(content.api)}`);
    if (typeof content.version !== 'string' || !IRIS_VERSION.test(content.version)) {
      throw new ConnError(`GET /api/atelier/: the version ${JSON.stringify(content.version)} is not in IRIS form`);
    }
    const namespaces = Array.isArray(content.namespaces) ? content.namespaces : [];
    if (!namespaces.includes(target.namespace)) {
      throw new ConnError(`GET /api/atelier/: namespace ${target.namespace} is not among ${JSON.stringify(namespaces)}`);
    }
    return { api: content.api, version: content.version };
  };

  /** objectscript.conn.active = false in the folder's settings (where the conn is set), as a failed check does. */
  const writeInactive = async (folder, conn) => {
    const config = vscode.workspace.getConfiguration('objectscript', folder.uri);
    const where = config.inspect('conn');
    const target = where?.workspaceFolderValue !== undefined ? vscode.ConfigurationTarget.WorkspaceFolder
      : where?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.WorkspaceFolder;
    try {
      await config.update('conn', { ...conn, active: false }, target);
      event('wrote-inactive', { folder: folder.uri.fsPath, target });
    } catch (err) {
      event('write-failed', { folder: folder.uri.fsPath, error: err.message });
    }
  };

  const scheduleCheck = (folder, ms, reason) => {
    const s = stateOf(folder);
    clearTimeout(s.timer);
    s.timer = setTimeout(() => void check(folder, reason), ms);
  };

  /** One request as the extension makes them (opening a document...), with its recovery. */
  const request = async (folder) => {
    const s = stateOf(folder);
    const target = s.target || resolveTarget(folder);
    const send = (headers) => httpRequest(target, 'GET', '/api/atelier/', headers);
    let res;
    try {
      if (!s.cookies.length) {
        const head = await httpRequest(target, 'HEAD', '/api/atelier/', basic(target));
        s.cookies = cookiesOf(head);
      }
      res = await send({ Cookie: s.cookies.join('; ') });
    } catch (err) {
      if (err.code === 'ECONNREFUSED') {
        s.cookies = [];
        setState(s, 'disconnected');
        const seconds = vscode.workspace.getConfiguration('objectscriptTest', folder.uri).get('retrySeconds', 30);
        event('request', { folder: folder.uri.fsPath, error: err.code, recheckInMs: seconds * 1000 });
        scheduleCheck(folder, seconds * 1000, 'after ECONNREFUSED');
        return { ok: false, error: err.code };
      }
      event('request', { folder: folder.uri.fsPath, error: err.message });
      return { ok: false, error: err.message };
    }
    if (res.status === 401) {
      // the session expired (IRIS restarted): once again with Basic auth, then a check after 500 ms
      s.cookies = [];
      res = await send(basic(target)).catch((err) => ({ status: 0, error: err.message }));
      event('request', { folder: folder.uri.fsPath, status: 401, retryStatus: res.status, recheckInMs: 500 });
      scheduleCheck(folder, 500, 'after a 401');
      return { ok: res.status === 200, status: res.status };
    }
    event('request', { folder: folder.uri.fsPath, status: res.status });
    return { ok: res.status === 200, status: res.status };
  };

  const serverForUri = (uri) => {
    const folder = folderOf(uri);
    if (!folder) return undefined;
    const s = stateOf(folder);
    const target = s.target || resolveTarget(folder);
    const connected = s.state === 'connected';
    return {
      serverName: target.serverName, active: target.active, scheme: target.scheme, host: target.host || '', port: target.port || 0,
      pathPrefix: target.pathPrefix, username: target.username || '', namespace: target.namespace,
      apiVersion: connected ? s.apiVersion : 0, serverVersion: connected ? s.serverVersion : '',
    };
  };

  const folders = () => vscode.workspace.workspaceFolders || [];
  const pickFolder = async () => (folders().length === 1 ? folders()[0] : vscode.window.activeTextEditor
    ? vscode.workspace.getWorkspaceFolder(vscode.window.activeTextEditor.document.uri) || folders()[0] : folders()[0]);

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      for (const f of folders()) {
        if (e.affectsConfiguration('objectscript.conn', f.uri) || e.affectsConfiguration('intersystems.servers', f.uri)) void check(f, 'conn changed');
      }
    }),
    vscode.workspace.onDidChangeWorkspaceFolders((e) => {
      for (const f of e.removed) {
        const s = states.get(f.uri.toString());
        if (s) {
          clearTimeout(s.timer);
          s.item?.dispose();
          states.delete(f.uri.toString());
        }
      }
      for (const f of e.added) void check(f, 'folder added');
    }),
    vscode.commands.registerCommand('objectscriptTest.request', async () => {
      const f = await pickFolder();
      return f ? request(f) : undefined;
    }),
    vscode.commands.registerCommand('objectscriptTest.failNextCheck', async () => {
      const f = await pickFolder();
      if (!f) return;
      stateOf(f).failNext = true;
      event('fail-next-check', { folder: f.uri.fsPath });
    }),
    vscode.commands.registerCommand('objectscriptTest.refresh', async () => {
      const f = await pickFolder();
      if (f) await check(f, 'refresh');
    }),
    { dispose: () => { for (const s of states.values()) clearTimeout(s.timer); } },
  );

  event('activate', { folders: folders().map((f) => f.uri.fsPath) });
  for (const f of folders()) void check(f, 'activation');

  return {
    serverForUri,
    asyncServerForUri: async (uri) => serverForUri(uri),
    onDidChangeConnection: () => changed.event,
  };
}

function deactivate() {}

module.exports = { activate, deactivate };
