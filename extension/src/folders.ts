// One helper (`iris-helper serve --stdio`) per workspace folder, and the folder's status-bar item:
// which folders get one (nested folders collapse), starting it (bundled binary or the user's
// irisHelper.helperPath, checked first), restarting it when a setting it was started with changes
// or the workspace becomes trusted, stopping it when the folder goes, the helper's statuses and
// messages. The counterpart of rust-analyzer's ctx.ts; the commands (commands.ts) act on the
// folders it keeps, and each folder's objectscript.conn is kept by its FolderConn (connWriter.ts).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type * as HelperClientModule from './helperClient';
import { FolderConn } from './connWriter';
import { eventLog } from './core/eventLog';
import { checkHelper, chooseHelper } from './core/helperBinary';
import { channelLevel, errorText, MessageGate } from './core/messages';
import { Commands } from './core/commands';
import { restartOffer } from './core/restart';
import { consentOffer } from './core/consent';
import { configChangeAction, initializationOptions, readSettings, type HelperSettings } from './core/options';
import type { Status } from './core/protocol';
import { helperRoots, type FolderRef } from './core/routing';
import { renderStatus, tooltipCommands, type ClientState } from './core/statusView';
import { versionMismatch } from './core/version';

/** A workspace folder that has a helper. */
export interface FolderEntry extends FolderRef {
  folder: vscode.WorkspaceFolder;
  item: vscode.StatusBarItem;
  output?: vscode.LogOutputChannel;
  helper?: HelperClientModule.FolderHelper;
  helperPath?: string;
  clientState: ClientState;
  clientError?: string;
  status?: Status;
  conn: FolderConn;
  disposed: boolean;
}

export class Folders implements vscode.Disposable {
  private readonly byUri = new Map<string, FolderEntry>();
  /** The window's own channel ("IRIS Helper"); each folder's helper logs to its own. */
  readonly log: vscode.LogOutputChannel;
  private helperModule?: typeof HelperClientModule;
  private versionWarned = false;
  private missingBinaryWarned = false;
  private readonly messages = new MessageGate();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('IRIS Helper', { log: true });
    context.subscriptions.push(this.log, this);
  }

  /** The folders with a helper, in workspace order. */
  get entries(): FolderEntry[] {
    return [...this.byUri.values()];
  }

  /** Gives every helper root of the workspace an entry (and a helper), and drops the entries of folders that went. */
  sync(): void {
    const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => ({ uri: folder.uri.toString(), name: folder.name, folder }));
    const roots = helperRoots(folders);
    const keep = new Set(roots.map((r) => r.uri));
    for (const [uri, e] of this.byUri) {
      if (!keep.has(uri)) {
        this.log.info(`folder removed: ${e.folder.uri.fsPath}; stopping its helper`);
        this.byUri.delete(uri);
        void this.disposeEntry(e);
      }
    }
    for (const r of roots) {
      if (this.byUri.has(r.uri)) continue;
      const item = vscode.window.createStatusBarItem(`irisHelper.status.${r.uri}`, vscode.StatusBarAlignment.Left, 10);
      item.name = `IRIS (${r.name})`;
      const entry: FolderEntry = {
        uri: r.uri, name: r.name, folder: r.folder, item, clientState: 'starting', disposed: false,
        conn: new FolderConn(this.context, this.log, r.uri, r.folder, () => entry.disposed, () => this.render(entry)),
      };
      this.byUri.set(r.uri, entry);
      // off the activation path: loading the client bundle and spawning the helper take time
      setImmediate(() => void this.startHelper(entry));
    }
    for (const e of this.byUri.values()) this.render(e);
  }

  /** A setting changed: restart the helpers it was started with, or look at objectscript.conn again. */
  onConfigChange(ev: vscode.ConfigurationChangeEvent): void {
    for (const e of this.byUri.values()) {
      const action = configChangeAction((section) => ev.affectsConfiguration(section, e.folder.uri));
      if (action === 'restart') {
        this.log.info(`settings changed for ${e.folder.uri.fsPath}: restarting its helper`);
        void this.restartHelper(e);
      } else if (action === 'conn') {
        e.conn.settingChanged();
      } else if (action === 'connChanged') {
        e.conn.connChanged();
      }
      // a user's server definition may have moved: the tooltip's warning looks again
      if (ev.affectsConfiguration('intersystems.servers') && action !== 'connChanged') e.conn.connChanged();
    }
  }

  /** The workspace became trusted: auto-start and irisHelper.helperPath now count. */
  onTrustGranted(): void {
    this.log.info('workspace trusted: restarting helpers with auto-start and irisHelper.helperPath');
    for (const e of this.byUri.values()) void this.restartHelper(e);
  }

  /** A status from the folder's helper (a notification, or a request's answer). */
  onStatus(entry: FolderEntry, s: Status): void {
    if (entry.disposed) return;
    entry.status = s;
    eventLog('status', { folder: entry.folder.uri.fsPath, state: s.state, phase: s.phase, kind: s.kind, superserverPort: s.superserverPort, webPort: s.webPort, isIrisProject: s.isIrisProject, restartNeeded: s.restartNeeded, message: s.message });
    // the conn first: the item renders what it knows of the ObjectScript connection for this status
    entry.conn.update(s);
    this.render(entry);
  }

  async stopAll(): Promise<void> {
    const all = this.entries;
    this.byUri.clear();
    await Promise.all(all.map((e) => this.disposeEntry(e)));
  }

  dispose(): void {
    void this.stopAll();
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
    e.conn.dispose();
    e.item.dispose();
    const h = e.helper;
    e.helper = undefined;
    if (h) await h.stop();
    e.output?.dispose();
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
    entry.output?.[channelLevel(sev)](text);
    const consent = consentOffer(text);
    if (consent) {
      // the auto-start of a compose project that needs the user's consent: a warning whose action
      // runs IRIS: Start, which lists the items in a modal and asks
      void Promise.resolve(vscode.window.showWarningMessage(text, consent.action)).then((pick) => {
        if (pick === consent.action) void vscode.commands.executeCommand(Commands.start, entry.uri);
      });
      return;
    }
    const offer = restartOffer(type, text);
    if (offer) {
      // a start (the auto-start) kept a container whose data is not on a volume: a warning whose
      // action runs IRIS: Restart, which asks in a modal before anything is lost
      void Promise.resolve(vscode.window.showWarningMessage(text, offer.action)).then((pick) => {
        if (pick === offer.action) void vscode.commands.executeCommand(Commands.restart, entry.uri);
      });
      return;
    }
    if (sev === 'error') void vscode.window.showErrorMessage(text);
    else if (sev === 'warning') void vscode.window.showWarningMessage(text);
    else void vscode.window.showInformationMessage(text);
  }

  /** Maps the folder's status view (core/statusView) onto its StatusBarItem. */
  private render(entry: FolderEntry): void {
    if (entry.disposed) return;
    const view = renderStatus({
      folderName: entry.name,
      folderUri: entry.uri,
      multiRoot: this.byUri.size > 1,
      clientState: entry.clientState,
      status: entry.status,
      clientError: entry.clientError,
      ...entry.conn.view,
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
}
