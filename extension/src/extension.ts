// IRIS Helper for VS Code: one helper (`iris-helper serve --stdio`) per workspace folder, a
// status-bar item per folder that renders the helper's status, the IRIS commands, and the
// objectscript.conn rule. Activation only registers commands and items; the language client
// bundle (dist/helperClient.js) is loaded right after, off the activation path.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type * as HelperClientModule from './helperClient';
import { Commands, managementPortalUrl } from './core/commands';
import { checkHelper, chooseHelper } from './core/helperBinary';
import { decideConn, parseProjectIrisSettings, type ObjectScriptConn, type ProjectIrisSettings, type WrittenConn } from './core/objectscriptConn';
import { MessageGate } from './core/messages';
import { initializationOptions, readSettings, restartingSettings, type HelperSettings } from './core/options';
import { portActions, portItems, connectionString, type PortItem, type PortActionItem } from './core/ports';
import type { PortsResult, ReleaseResult, Status, StopParams, ReleaseParams, RestartParams } from './core/protocol';
import { Methods } from './core/protocol';
import { helperRoots, routeCommand, type FolderRef } from './core/routing';
import { configLimit, readProjectFile } from './core/projectFile';
import { restartAnyway, restartWithConfirm } from './core/restart';
import { folderSettingsPath, readSetting, refusedSettingsMessage, writeSetting } from './core/settingsFile';
import { renderStatus, tooltipCommands, type ClientState } from './core/statusView';
import { versionMismatch } from './core/version';

// set by the bundle's first and last statements (esbuild.mjs banner/footer); absent in unbundled builds
declare const __irisHelperLoadStart: number | undefined;
declare const __irisHelperLoadEnd: number | undefined;

/** Appends the extension's own events as JSON lines to $IRIS_HELPER_EXTENSION_LOG (a debugging aid; unset = off). */
function eventLog(event: string, data: Record<string, unknown> = {}): void {
  const file = process.env.IRIS_HELPER_EXTENSION_LOG;
  if (!file) return;
  try {
    fs.appendFileSync(file, JSON.stringify({ time: new Date().toISOString(), event, ...data }) + '\n');
  } catch {
    // a debugging aid must never break the extension
  }
}

interface FolderEntry extends FolderRef {
  folder: vscode.WorkspaceFolder;
  item: vscode.StatusBarItem;
  output?: vscode.LogOutputChannel;
  helper?: HelperClientModule.FolderHelper;
  helperPath?: string;
  clientState: ClientState;
  clientError?: string;
  status?: Status;
  /** serializes objectscript.conn updates */
  connChain: Promise<void>;
  lastConnPort?: number;
  /** the settings file was refused (a link out of the folder...) and the user told, this window */
  connRefusedWarned?: boolean;
  disposed: boolean;
}

class IrisHelperExtension implements vscode.Disposable {
  private readonly entries = new Map<string, FolderEntry>();
  readonly log: vscode.LogOutputChannel;
  private helperModule?: typeof HelperClientModule;
  private versionWarned = false;
  private missingBinaryWarned = false;
  private readonly messages = new MessageGate();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('IRIS Helper', { log: true });
    context.subscriptions.push(this.log, this);
  }

  activate(): void {
    const c = this.context.subscriptions;
    const reg = (id: string, fn: (arg?: unknown) => unknown) => c.push(vscode.commands.registerCommand(id, fn));
    reg(Commands.start, (arg) => this.runStart(arg));
    reg(Commands.stop, (arg) => this.runStop(arg));
    reg(Commands.restart, (arg) => this.runRestart(arg));
    reg(Commands.showPorts, (arg) => this.showPorts(arg));
    reg(Commands.openManagementPortal, (arg) => this.openPortal(arg));
    reg(Commands.showLog, (arg) => this.showLog(arg));
    reg(Commands.release, (arg) => this.release(arg));
    c.push(
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.syncFolders()),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigChange(e)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.log.info('workspace trusted: restarting helpers with auto-start and irisHelper.helperPath');
        for (const e of this.entries.values()) void this.restartHelper(e);
      }),
    );
    this.syncFolders();
  }

  // ---- folders and helpers ----

  private syncFolders(): void {
    const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => ({ uri: folder.uri.toString(), name: folder.name, folder }));
    const roots = helperRoots(folders);
    const keep = new Set(roots.map((r) => r.uri));
    for (const [uri, e] of this.entries) {
      if (!keep.has(uri)) {
        this.log.info(`folder removed: ${e.folder.uri.fsPath}; stopping its helper`);
        this.entries.delete(uri);
        void this.disposeEntry(e);
      }
    }
    for (const r of roots) {
      if (this.entries.has(r.uri)) continue;
      const item = vscode.window.createStatusBarItem(`irisHelper.status.${r.uri}`, vscode.StatusBarAlignment.Left, 10);
      item.name = `IRIS (${r.name})`;
      const entry: FolderEntry = { uri: r.uri, name: r.name, folder: r.folder, item, clientState: 'starting', connChain: Promise.resolve(), disposed: false };
      this.entries.set(r.uri, entry);
      // off the activation path: loading the client bundle and spawning the helper take time
      setImmediate(() => void this.startHelper(entry));
    }
    for (const e of this.entries.values()) this.render(e);
  }

  private loadHelperModule(): typeof HelperClientModule {
    if (!this.helperModule) {
      // a separate bundle, loaded on first use (see esbuild.mjs)
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      this.helperModule = require(path.join(__dirname, 'helperClient.js')) as typeof HelperClientModule;
    }
    return this.helperModule;
  }

  /** The folder's settings; helperPath, bindAddress and the allow* knobs from user settings only. */
  private settings(folder: vscode.WorkspaceFolder): HelperSettings {
    return readSettings(vscode.workspace.getConfiguration('irisHelper', folder.uri));
  }

  private async startHelper(entry: FolderEntry): Promise<void> {
    if (entry.disposed) return;
    const trusted = vscode.workspace.isTrusted;
    const s = this.settings(entry.folder);
    const choice = chooseHelper(this.context.extensionPath, s.helperPath, trusted);
    const problem = checkHelper(choice);
    entry.helperPath = choice.path;
    if (problem) {
      entry.clientError = problem;
      entry.clientState = 'stopped';
      this.log.error(problem);
      this.render(entry);
      eventLog('helper-missing', { folder: entry.folder.uri.fsPath, problem });
      if (!this.missingBinaryWarned) {
        this.missingBinaryWarned = true;
        void vscode.window.showErrorMessage(problem, 'Open Settings').then((pick) => {
          if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', 'irisHelper.helperPath');
        });
      }
      return;
    }
    entry.clientError = undefined;
    entry.output ??= vscode.window.createOutputChannel(`IRIS Helper (${entry.name})`, { log: true });
    const init = initializationOptions(s, trusted);
    this.log.info(`starting ${choice.path} serve --stdio for ${entry.folder.uri.fsPath} (${JSON.stringify(init)})`);
    const t0 = performance.now();
    let helper: HelperClientModule.FolderHelper;
    try {
      helper = this.loadHelperModule().createFolderHelper({
        folder: entry.folder,
        helperPath: choice.path,
        initializationOptions: init,
        outputChannel: entry.output,
        onStatus: (st) => this.onStatus(entry, st),
        onClientState: (cs) => {
          entry.clientState = cs;
          this.render(entry);
        },
        onShowMessage: (type, text) => this.onHelperMessage(entry, type, text),
      });
      entry.helper = helper;
      const result = await helper.start();
      if (entry.disposed) return;
      entry.clientState = 'running';
      eventLog('helper-started', { folder: entry.folder.uri.fsPath, ms: Math.round(performance.now() - t0), serverInfo: result.serverInfo });
      const mismatch = versionMismatch(String(this.context.extension.packageJSON.version ?? ''), result.serverInfo?.version, choice.path);
      if (mismatch) {
        this.log.warn(mismatch);
        if (!this.versionWarned) {
          this.versionWarned = true;
          void vscode.window.showWarningMessage(mismatch);
        }
      }
      if (result.status) this.onStatus(entry, result.status);
      else this.render(entry);
    } catch (err) {
      const msg = `The IRIS helper for ${entry.folder.name} did not start: ${errorText(err)}`;
      entry.clientError = msg;
      entry.clientState = 'stopped';
      this.log.error(msg);
      eventLog('helper-failed', { folder: entry.folder.uri.fsPath, error: errorText(err) });
      this.render(entry);
    }
  }

  private async restartHelper(entry: FolderEntry): Promise<void> {
    const old = entry.helper;
    entry.helper = undefined;
    entry.status = undefined;
    entry.clientState = 'starting';
    if (old) await old.stop();
    await this.startHelper(entry);
  }

  private async disposeEntry(e: FolderEntry): Promise<void> {
    e.disposed = true;
    e.item.dispose();
    const h = e.helper;
    e.helper = undefined;
    if (h) await h.stop();
    e.output?.dispose();
  }

  private onConfigChange(ev: vscode.ConfigurationChangeEvent): void {
    for (const e of this.entries.values()) {
      if (restartingSettings.some((k) => ev.affectsConfiguration(`irisHelper.${k}`, e.folder.uri))) {
        this.log.info(`settings changed for ${e.folder.uri.fsPath}: restarting its helper`);
        void this.restartHelper(e);
      } else if (ev.affectsConfiguration('irisHelper.updateObjectScriptConnection', e.folder.uri)) {
        e.lastConnPort = undefined;
        if (e.status) this.updateConn(e, e.status);
      }
    }
  }

  /** window/showMessage from a folder's helper: a warning once per window, errors and information every time. */
  private onHelperMessage(entry: FolderEntry, type: number, text: string): void {
    if (entry.disposed) return;
    const sev = this.messages.decide(entry.uri, type, text);
    eventLog('helper-message', { folder: entry.folder.uri.fsPath, type, message: text, shown: sev !== undefined });
    if (sev === undefined) {
      entry.output?.info(`(shown before in this window) ${text}`);
      return;
    }
    entry.output?.[sev === 'info' ? 'info' : sev === 'warning' ? 'warn' : 'error'](text);
    if (sev === 'error') void vscode.window.showErrorMessage(text);
    else if (sev === 'warning') void vscode.window.showWarningMessage(text);
    else void vscode.window.showInformationMessage(text);
  }

  // ---- status ----

  private onStatus(entry: FolderEntry, s: Status): void {
    if (entry.disposed) return;
    entry.status = s;
    eventLog('status', { folder: entry.folder.uri.fsPath, state: s.state, superserverPort: s.superserverPort, webPort: s.webPort, isIrisProject: s.isIrisProject, restartNeeded: s.restartNeeded, message: s.message });
    this.render(entry);
    this.updateConn(entry, s);
  }

  private render(entry: FolderEntry): void {
    if (entry.disposed) return;
    const view = renderStatus({
      folderName: entry.name,
      folderUri: entry.uri,
      multiRoot: this.entries.size > 1,
      clientState: entry.clientState,
      status: entry.status,
      clientError: entry.clientError,
    });
    const item = entry.item;
    if (!view.visible) {
      item.hide();
      return;
    }
    item.text = view.text;
    const md = new vscode.MarkdownString(view.tooltip, true);
    md.isTrusted = { enabledCommands: tooltipCommands };
    item.tooltip = md;
    item.backgroundColor = view.background ? new vscode.ThemeColor(`statusBarItem.${view.background}Background`) : undefined;
    item.command = view.command ? { title: view.accessibilityLabel, command: view.command.id, arguments: view.command.args } : undefined;
    item.accessibilityInformation = { label: view.accessibilityLabel, role: 'button' };
    item.show();
  }

  // ---- objectscript.conn ----

  private updateConn(entry: FolderEntry, s: Status): void {
    if (!s.webPort || s.webPort === entry.lastConnPort) return;
    const port = s.webPort;
    entry.lastConnPort = port;
    entry.connChain = entry.connChain.then(() => this.applyConn(entry, s)).catch((err) => {
      entry.lastConnPort = undefined;
      this.log.error(`objectscript.conn for ${entry.folder.uri.fsPath}: ${errorText(err)}`);
    });
  }

  private async applyConn(entry: FolderEntry, s: Status): Promise<void> {
    try {
      await this.applyConnUnchecked(entry, s);
    } catch (err) {
      const text = refusedSettingsMessage(entry.folder.name, s.webPort, err);
      if (text === undefined) throw err;
      this.log.warn(text);
      eventLog('conn-refused', { folder: entry.folder.uri.fsPath, error: errorText(err) });
      if (!entry.connRefusedWarned) {
        entry.connRefusedWarned = true;
        void vscode.window.showWarningMessage(text);
      }
    }
  }

  private async applyConnUnchecked(entry: FolderEntry, s: Status): Promise<void> {
    if (entry.disposed) return;
    const enabled = vscode.workspace.getConfiguration('irisHelper', entry.folder.uri).get<boolean>('updateObjectScriptConnection', true);
    if (!enabled || !s.webPort) return;
    const folderPath = entry.folder.uri.fsPath;
    const file = folderSettingsPath(folderPath);
    const writtenKey = `irisHelper.connWritten:${entry.uri}`;
    const current = (await readSetting(folderPath, 'objectscript.conn')) as ObjectScriptConn | undefined;
    const decision = decideConn({
      enabled,
      webPort: s.webPort,
      current,
      written: this.context.workspaceState.get<WrittenConn>(writtenKey),
      project: await this.projectIris(s.project || folderPath),
    });
    if (decision.action === 'write') {
      await writeSetting(folderPath, 'objectscript.conn', decision.conn);
      await this.context.workspaceState.update(writtenKey, decision.written);
      this.log.info(`objectscript.conn in ${file} now points at localhost:${s.webPort}`);
      eventLog('conn-written', { folder: entry.folder.uri.fsPath, port: s.webPort });
    } else if (decision.action === 'foreign') {
      const noticeKey = `irisHelper.connForeignNoticed:${entry.uri}`;
      this.log.info(`objectscript.conn in ${file} left alone: ${decision.reason}`);
      eventLog('conn-foreign', { folder: entry.folder.uri.fsPath, reason: decision.reason });
      if (!this.context.workspaceState.get<boolean>(noticeKey)) {
        await this.context.workspaceState.update(noticeKey, true);
        void vscode.window.showInformationMessage(
          `IRIS Helper left objectscript.conn of ${entry.folder.name} alone: ${decision.reason}. ` +
          `This project's IRIS listens on web port ${s.webPort}. (Shown once; turn off irisHelper.updateObjectScriptConnection to stop checking.)`);
      }
    }
  }

  /** iris.namespace and iris.username of a project's .iris-helper.json ({} when it has none or it cannot be read). */
  private async projectIris(projectDir: string): Promise<ProjectIrisSettings> {
    const file = path.join(projectDir, '.iris-helper.json');
    try {
      return parseProjectIrisSettings(await readProjectFile(file, configLimit, 'follow'));
    } catch (err) {
      // the helper reports a bad project file itself; here only the default namespace and user are lost
      this.log.warn(`${errorText(err)}; using the default namespace and user`);
      return {};
    }
  }

  // ---- commands ----

  private argUri(arg: unknown): string | undefined {
    if (typeof arg === 'string') return arg;
    if (arg instanceof vscode.Uri) return arg.toString();
    return undefined;
  }

  /** The folder a command acts on: its argument, the active editor's folder, the only one, or a picker. */
  private async pickEntry(arg: unknown, what: string): Promise<FolderEntry | undefined> {
    const roots = [...this.entries.values()];
    const route = routeCommand(roots, this.argUri(arg), vscode.window.activeTextEditor?.document.uri.toString());
    if (route.kind === 'none') {
      void vscode.window.showInformationMessage('IRIS: open a folder with an IRIS project first.');
      return undefined;
    }
    if (route.kind === 'folder') return route.folder;
    const picked = await vscode.window.showQuickPick(
      route.choices.map((e) => ({ label: e.name, description: e.status ? renderStatus({ folderName: e.name, folderUri: e.uri, multiRoot: false, clientState: e.clientState, status: e.status }).text : '', detail: e.folder.uri.fsPath, entry: e })),
      { placeHolder: `IRIS: ${what} which folder?` });
    return picked?.entry;
  }

  private helperFor(e: FolderEntry): HelperClientModule.FolderHelper | undefined {
    if (e.helper && e.helper.running) return e.helper;
    void vscode.window.showErrorMessage(e.clientError ?? `The IRIS helper for ${e.name} is not running; see IRIS: Show Helper Log.`);
    return undefined;
  }

  private async call(arg: unknown, what: string, method: string, params: unknown): Promise<Status | undefined> {
    const e = await this.pickEntry(arg, what);
    if (!e) return undefined;
    const h = this.helperFor(e);
    if (!h) return undefined;
    try {
      const s = await h.request<Status>(method, params);
      this.onStatus(e, s);
      return s;
    } catch (err) {
      void vscode.window.showErrorMessage(`IRIS ${what} failed for ${e.name}: ${errorText(err)}`);
      return undefined;
    }
  }

  private runStart(arg: unknown) {
    return this.call(arg, 'start', Methods.start, {});
  }

  private runStop(arg: unknown) {
    const params: StopParams = {};
    return this.call(arg, 'stop', Methods.stop, params);
  }

  /** iris/restart; when the helper says the restart would lose data, a modal asks first. */
  private async runRestart(arg: unknown): Promise<Status | undefined> {
    const e = await this.pickEntry(arg, 'restart');
    if (!e) return undefined;
    const h = this.helperFor(e);
    if (!h) return undefined;
    try {
      const r = await restartWithConfirm<Status>(
        (params: RestartParams) => h.request<Status>(Methods.restart, params),
        (p) => Promise.resolve(vscode.window.showWarningMessage(p.message, { modal: true, detail: p.detail }, restartAnyway)),
        e.name);
      if (r.kind === 'cancelled') {
        this.log.info(`restart of ${e.folder.uri.fsPath} cancelled: ${r.confirm.message}`);
        eventLog('restart-cancelled', { folder: e.folder.uri.fsPath, container: r.confirm.container, reason: r.confirm.reason });
        return undefined;
      }
      this.onStatus(e, r.status);
      return r.status;
    } catch (err) {
      void vscode.window.showErrorMessage(`IRIS restart failed for ${e.name}: ${errorText(err)}`);
      return undefined;
    }
  }

  private async openPortal(arg: unknown): Promise<void> {
    const e = await this.pickEntry(arg, 'open the Management Portal of');
    if (!e) return;
    const s = e.status;
    if (!s || !s.webPort || (s.state !== 'ready' && s.state !== 'unhealthy')) {
      const pick = await vscode.window.showInformationMessage(`IRIS is not running for ${e.name}.`, 'Start');
      if (pick === 'Start') await this.runStart(e.uri);
      return;
    }
    await vscode.env.openExternal(vscode.Uri.parse(managementPortalUrl(s.webPort)));
  }

  private async showLog(arg: unknown): Promise<void> {
    const e = this.entries.size > 0 ? await this.pickEntry(arg, 'show the helper log of') : undefined;
    if (e?.output) e.output.show(true);
    else this.log.show(true);
  }

  private async showPorts(arg: unknown): Promise<void> {
    const entries = [...this.entries.values()];
    const routed = routeCommand(entries, this.argUri(arg), vscode.window.activeTextEditor?.document.uri.toString());
    // the registry is machine-wide: any running helper can answer
    const e = (routed.kind === 'folder' && routed.folder.helper?.running ? routed.folder : undefined) ?? entries.find((x) => x.helper?.running);
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
    const iris = await this.projectIris(a.project);
    const action = await vscode.window.showQuickPick<PortActionItem>(portActions(a, owner !== undefined, iris.namespace, iris.username), { placeHolder: `${a.project}: ports ${a.superserverPort}/${a.webPort}` });
    if (!action) return;
    switch (action.action) {
      case 'copyPort':
        await vscode.env.clipboard.writeText(String(a.superserverPort));
        break;
      case 'copyWebPort':
        await vscode.env.clipboard.writeText(String(a.webPort));
        break;
      case 'copyConnectionString':
        await vscode.env.clipboard.writeText(connectionString(a, iris.namespace, iris.username));
        break;
      case 'openPortal':
        await vscode.env.openExternal(vscode.Uri.parse(managementPortalUrl(a.webPort)));
        break;
      case 'release':
        if (owner) await this.release(owner.uri);
        break;
    }
  }

  private async release(arg: unknown): Promise<void> {
    const e = await this.pickEntry(arg, 'release the ports of');
    if (!e) return;
    const h = this.helperFor(e);
    if (!h) return;
    const s = e.status;
    const ports = s && s.superserverPort ? ` ${s.superserverPort}/${s.webPort}` : '';
    const ok = await vscode.window.showWarningMessage(
      `Release the ports${ports} of ${e.name}? Its IRIS container is removed and the ports may go to another project.`,
      { modal: true }, 'Release');
    if (ok !== 'Release') return;
    const run = async (params: ReleaseParams) => {
      const r = await h.request<ReleaseResult>(Methods.release, params);
      void vscode.window.showInformationMessage(`IRIS: released ports ${r.released.superserverPort}/${r.released.webPort} of ${e.name}.`);
      const st = await h.request<Status>(Methods.status, {});
      this.onStatus(e, st);
    };
    try {
      await run({});
    } catch (err) {
      const pick = await vscode.window.showErrorMessage(`IRIS: release failed for ${e.name}: ${errorText(err)}`, 'Stop and Release');
      if (pick !== 'Stop and Release') return;
      try {
        await run({ force: true });
      } catch (err2) {
        void vscode.window.showErrorMessage(`IRIS: release failed for ${e.name}: ${errorText(err2)}`);
      }
    }
  }

  async stopAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.disposeEntry(e)));
  }

  dispose(): void {
    void this.stopAll();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

let instance: IrisHelperExtension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const t0 = performance.now();
  instance = new IrisHelperExtension(context);
  instance.activate();
  const t1 = performance.now();
  const activateMs = t1 - t0;
  // bundle evaluation (our top-level code), then VS Code's own work before calling activate
  // (it creates the extension context while the module loads)
  const start = typeof __irisHelperLoadStart === 'number' ? __irisHelperLoadStart : NaN;
  const end = typeof __irisHelperLoadEnd === 'number' ? __irisHelperLoadEnd : NaN;
  const round = (n: number) => Math.round(n * 100) / 100;
  const evalMs = end - start;
  const waitMs = t0 - end;
  instance.log.info(`activated in ${activateMs.toFixed(1)} ms (bundle evaluation ${evalMs.toFixed(1)} ms; VS Code between load and activate ${waitMs.toFixed(1)} ms)`);
  eventLog('activate', { activateMs: round(activateMs), bundleEvalMs: round(evalMs), loadToActivateMs: round(waitMs), loadStartToActivatedMs: round(t1 - start) });
}

export async function deactivate(): Promise<void> {
  await instance?.stopAll();
  instance = undefined;
}
