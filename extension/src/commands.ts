// The IRIS commands (package.json "contributes.commands", ids in core/commands): each handler
// finds the folder it acts on (its argument from a status-bar or tooltip click, the active
// editor's folder, the only folder, or a picker), asks that folder's helper and shows the answer.
// The counterpart of rust-analyzer's commands.ts; the decisions they make are in src/core
// (routing, restart, release, ports).
import * as vscode from 'vscode';
import type * as HelperClientModule from './helperClient';
import type { FolderEntry, Folders } from './folders';
import { Commands, type CommandId } from './core/commands';
import { errorText } from './core/messages';
import { openProjectItems, portActionEffect, portActions, portItems, registryOnlyConn, type PortActionItem, type PortItem } from './core/ports';
import { Methods, type PortsResult, type ReleaseParams, type ReleaseResult, type RestartParams, type StartParams, type Status, type StopParams } from './core/protocol';
import { releaseButton, releaseQuestion, releaseWithForce, releasedMessage, stopAndReleaseButton } from './core/release';
import { restartAnyway, restartWithConfirm, startWithConfirm, type RestartOutcome } from './core/restart';
import { allowAndStart, startWithConsent } from './core/consent';
import { deleteData, purgedMessage, purgeParams, purgePrompt } from './core/purge';
import { answeringFolder, routeCommand } from './core/routing';
import { pickerDescription, portalUrl } from './core/statusView';
import { eventLog } from './core/eventLog';

type Handler = (folders: Folders, arg: unknown) => unknown;

/** Every contributed command's handler (the type makes a missing one a compile error). */
const handlers: Record<CommandId, Handler> = {
  [Commands.start]: start,
  [Commands.stop]: stop,
  [Commands.purge]: purge,
  [Commands.restart]: restart,
  [Commands.rebuild]: rebuild,
  [Commands.showPorts]: showPorts,
  [Commands.openManagementPortal]: openPortal,
  [Commands.showLog]: showLog,
  [Commands.release]: release,
  [Commands.retryObjectScript]: retryObjectScript,
  [Commands.useProjectPort]: useProjectPort,
};

export function registerCommands(folders: Folders): vscode.Disposable[] {
  return Object.entries(handlers).map(([id, fn]) => vscode.commands.registerCommand(id, (arg?: unknown) => fn(folders, arg)));
}

function argUri(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.toString();
  return undefined;
}

function activeEditorUri(): string | undefined {
  return vscode.window.activeTextEditor?.document.uri.toString();
}

/** The folder a command acts on: its argument, the active editor's folder, the only one, or a picker. */
async function pickEntry(folders: Folders, arg: unknown, what: string): Promise<FolderEntry | undefined> {
  const route = routeCommand(folders.entries, argUri(arg), activeEditorUri());
  if (route.kind === 'none') {
    void vscode.window.showInformationMessage('IRIS: open a folder with an IRIS project first.');
    return undefined;
  }
  if (route.kind === 'folder') return route.folder;
  const picked = await vscode.window.showQuickPick(
    route.choices.map((e) => ({ label: e.name, description: pickerDescription(e), detail: e.folder.uri.fsPath, entry: e })),
    { placeHolder: `IRIS: ${what} which folder?` });
  return picked?.entry;
}

function helperFor(e: FolderEntry): HelperClientModule.FolderHelper | undefined {
  if (e.helper && e.helper.running) return e.helper;
  void vscode.window.showErrorMessage(e.clientError ?? `The IRIS helper for ${e.name} is not running; see IRIS: Show Helper Log.`);
  return undefined;
}

/** Sends a request that answers with the folder's status to the folder's helper. */
async function call(folders: Folders, arg: unknown, what: string, method: string, params: unknown): Promise<Status | undefined> {
  const e = await pickEntry(folders, arg, what);
  if (!e) return undefined;
  const h = helperFor(e);
  if (!h) return undefined;
  try {
    const s = await h.request<Status>(method, params);
    folders.onStatus(e, s);
    return s;
  } catch (err) {
    void vscode.window.showErrorMessage(`IRIS ${what} failed for ${e.name}: ${errorText(err)}`);
    return undefined;
  }
}

/**
 * iris/start; when the start kept a container whose data is not on a volume (-32020), the restart
 * that would recreate it is offered with the same modal as IRIS: Restart.
 */
function start(folders: Folders, arg: unknown): Promise<Status | undefined> {
  return startOrRebuild(folders, arg, 'start', {});
}

/** iris/start {"build": true}: the project's images are built again, then IRIS starts on them. */
function rebuild(folders: Folders, arg: unknown): Promise<Status | undefined> {
  return startOrRebuild(folders, arg, 'rebuild', { build: true });
}

async function startOrRebuild(folders: Folders, arg: unknown, what: 'start' | 'rebuild', params: StartParams): Promise<Status | undefined> {
  const e = await pickEntry(folders, arg, what);
  if (!e) return undefined;
  const h = helperFor(e);
  if (!h) return undefined;
  // a compose project beyond the allow-list asks for consent first (core/consent), then the start
  // may still have to ask before a restart loses data (core/restart)
  let declined = false;
  const startAllowed = async (): Promise<Status> => {
    const r = await startWithConsent<Status>((p) => h.request<Status>(Methods.start, p), params, askConsent, e.name);
    if (r.kind === 'declined') {
      declined = true;
      folders.log.info(`${what} of ${e.folder.uri.fsPath}: not allowed: ${r.consent.message}`);
      eventLog('consent-declined', { folder: e.folder.uri.fsPath, items: r.consent.items.map((i) => i.id) });
      throw new ConsentDeclined();
    }
    return r.status;
  };
  return confirmedOutcome(folders, e, what, () => startWithConfirm<Status>(
    startAllowed,
    (params: RestartParams) => h.request<Status>(Methods.restart, params),
    askModal,
    e.name), (err) => declined && err instanceof ConsentDeclined);
}

/** The user cancelled the consent modal: the start is not sent, and nothing is shown. */
class ConsentDeclined extends Error {}

/** The modal that asks before a compose project does what a repository may not do on its own. */
function askConsent(p: { message: string; detail: string }): Promise<string | undefined> {
  return Promise.resolve(vscode.window.showWarningMessage(p.message, { modal: true, detail: p.detail }, allowAndStart));
}

/** The modal that asks before a restart loses data. */
function askModal(p: { message: string; detail: string }): Promise<string | undefined> {
  return Promise.resolve(vscode.window.showWarningMessage(p.message, { modal: true, detail: p.detail }, restartAnyway));
}

/** Runs a start or restart that may ask first, and shows its outcome. */
async function confirmedOutcome(folders: Folders, e: FolderEntry, what: string, run: () => Promise<RestartOutcome<Status>>,
  quiet: (err: unknown) => boolean = () => false): Promise<Status | undefined> {
  try {
    const r = await run();
    if (r.kind === 'cancelled') {
      folders.log.info(`${what} of ${e.folder.uri.fsPath}: recreate cancelled: ${r.confirm.message}`);
      eventLog('restart-cancelled', { folder: e.folder.uri.fsPath, container: r.confirm.container, reason: r.confirm.reason });
      return undefined;
    }
    folders.onStatus(e, r.status);
    return r.status;
  } catch (err) {
    if (quiet(err)) return undefined;
    void vscode.window.showErrorMessage(`IRIS ${what} failed for ${e.name}: ${errorText(err)}`);
    return undefined;
  }
}

/** IRIS: Stop and Delete Data: asks in a modal, then iris/stop {remove, purge}; says which volumes went. */
async function purge(folders: Folders, arg: unknown): Promise<Status | undefined> {
  const e = await pickEntry(folders, arg, 'stop and delete data');
  if (!e) return undefined;
  const h = helperFor(e);
  if (!h) return undefined;
  const prompt = purgePrompt(e.name, e.status?.kind);
  const pick = await vscode.window.showWarningMessage(prompt.message, { modal: true, detail: prompt.detail }, deleteData);
  if (pick !== deleteData) return undefined;
  try {
    const s = await h.request<Status & { removedVolumes?: string[] }>(Methods.stop, purgeParams);
    folders.onStatus(e, s);
    eventLog('purged', { folder: e.folder.uri.fsPath, volumes: s.removedVolumes ?? [] });
    void vscode.window.showInformationMessage(purgedMessage(e.name, s.removedVolumes));
    return s;
  } catch (err) {
    void vscode.window.showErrorMessage(`IRIS stop and delete data failed for ${e.name}: ${errorText(err)}`);
    return undefined;
  }
}

function stop(folders: Folders, arg: unknown): Promise<Status | undefined> {
  const params: StopParams = {};
  return call(folders, arg, 'stop', Methods.stop, params);
}

/** iris/restart; when the helper says the restart would lose data, a modal asks first. */
async function restart(folders: Folders, arg: unknown): Promise<Status | undefined> {
  const e = await pickEntry(folders, arg, 'restart');
  if (!e) return undefined;
  const h = helperFor(e);
  if (!h) return undefined;
  return confirmedOutcome(folders, e, 'restart', () => restartWithConfirm<Status>(
    (params: RestartParams) => h.request<Status>(Methods.restart, params), askModal, e.name));
}

async function openPortal(folders: Folders, arg: unknown): Promise<void> {
  const e = await pickEntry(folders, arg, 'open the Management Portal of');
  if (!e) return;
  const url = e.status && portalUrl(e.status);
  if (!url) {
    const pick = await vscode.window.showInformationMessage(`IRIS is not running for ${e.name}.`, 'Start');
    if (pick === 'Start') await start(folders, e.uri);
    return;
  }
  await vscode.env.openExternal(vscode.Uri.parse(url));
}

async function showLog(folders: Folders, arg: unknown): Promise<void> {
  const e = folders.entries.length > 0 ? await pickEntry(folders, arg, 'show the helper log of') : undefined;
  if (e?.output) e.output.show(true);
  else folders.log.show(true);
}

async function showPorts(folders: Folders, arg: unknown): Promise<void> {
  const entries = folders.entries;
  // the registry is machine-wide: any running helper can answer
  const e = answeringFolder(entries, argUri(arg), activeEditorUri(), (x) => x.helper?.running === true);
  if (!e?.helper) {
    void vscode.window.showInformationMessage('IRIS: no helper is running in this window; open a folder first.');
    return;
  }
  let result: PortsResult;
  try {
    result = await e.helper.request<PortsResult>(Methods.ports, {});
  } catch (err) {
    void vscode.window.showErrorMessage(`IRIS: listing ports failed: ${errorText(err)}`);
    return;
  }
  const open = entries.map((x) => x.status?.project).filter((p): p is string => !!p);
  const items = portItems(result.assignments ?? [], open);
  if (items.length === 0) {
    void vscode.window.showInformationMessage('IRIS: no project has ports assigned yet.');
    return;
  }
  const picked = await vscode.window.showQuickPick<PortItem>(items, { placeHolder: 'IRIS ports of every project on this machine', matchOnDescription: true, matchOnDetail: true });
  if (!picked) return;
  const a = picked.assignment;
  const owner = entries.find((x) => x.status?.project === a.project);
  // host, namespace and user of a project open here come from its status (the helper read its
  // .iris-helper.json); another project's are the defaults
  const conn = owner?.status ?? registryOnlyConn;
  const extra = owner ? openProjectItems(owner.status?.ports, owner.conn.view.objectScript) : [];
  const action = await vscode.window.showQuickPick<PortActionItem>([...extra, ...portActions(a, owner !== undefined, conn)], { placeHolder: `${a.project}: ports ${a.superserverPort}/${a.webPort}` });
  if (!action) return;
  const effect = portActionEffect(action.action, a, conn, action);
  switch (effect.kind) {
    case 'copy':
      await vscode.env.clipboard.writeText(effect.text);
      break;
    case 'open':
      await vscode.env.openExternal(vscode.Uri.parse(effect.url));
      break;
    case 'release':
      if (owner) await release(folders, owner.uri);
      break;
    case 'retryObjectScript':
      if (owner) await owner.conn.retry();
      break;
  }
}

/** iris/release after a modal; refused while IRIS runs, then "Stop and Release" forces it. */
async function release(folders: Folders, arg: unknown): Promise<void> {
  const e = await pickEntry(folders, arg, 'release the ports of');
  if (!e) return;
  const h = helperFor(e);
  if (!h) return;
  const ok = await vscode.window.showWarningMessage(releaseQuestion(e.name, e.status), { modal: true }, releaseButton);
  if (ok !== releaseButton) return;
  const run = async (params: ReleaseParams) => {
    const r = await h.request<ReleaseResult>(Methods.release, params);
    void vscode.window.showInformationMessage(releasedMessage(e.name, r.released));
    const st = await h.request<Status>(Methods.status, {});
    folders.onStatus(e, st);
  };
  const outcome = await releaseWithForce(run, (message) => Promise.resolve(vscode.window.showErrorMessage(message, stopAndReleaseButton)), e.name);
  if (outcome.kind === 'failed') void vscode.window.showErrorMessage(outcome.message);
}

/** Makes the ObjectScript extension check its connection again (the folder's conn is rewritten). */
async function retryObjectScript(folders: Folders, arg: unknown): Promise<void> {
  const e = await pickEntry(folders, arg, 'retry the ObjectScript connection of');
  if (e) await e.conn.retry();
}

/** objectscript.conn names a server on another port: write this project's host/port into the folder's conn instead. */
async function useProjectPort(folders: Folders, arg: unknown): Promise<void> {
  const e = await pickEntry(folders, arg, "point objectscript.conn at the port of");
  if (e) await e.conn.useProjectPort();
}
