// One folder's objectscript.conn and the ObjectScript extension's connection to the project's IRIS.
// The rules are pure and in core/: what the conn should be (objectscriptConn's decideConn: the
// compose, pinned-port, server and host/port forms), when it is written (connNudge: only once IRIS
// is ready, one rewrite per ready transition, a false within 60 s undone once), what the tooltip
// says about the connection (objectscriptStatus) from the ObjectScript extension's API and our own
// probe (atelierProbe); the file edit, which refuses a settings file that leads out of the folder,
// is settingsFile's; the queue (one update at a time) is connUpdates'. The Server Manager
// definition that carries the credentials is serverDefs'. This file holds what needs VS Code.
import * as vscode from 'vscode';
import { probeAtelier } from './core/atelierProbe';
import { ConnNudge, offReasonText } from './core/connNudge';
import { ConnUpdates } from './core/connUpdates';
import { eventLog } from './core/eventLog';
import { errorText } from './core/messages';
import {
  decideConn, foreignConnMessage, pinnedMovedMessage, projectPortConn, type ConnDecision, type ObjectScriptConn, type WrittenConn,
} from './core/objectscriptConn';
import {
  notInstalledMessage, objectScriptExtensionId, objectScriptLine, type ProbeResult, type ServerForUri,
} from './core/objectscriptStatus';
import type { Status } from './core/protocol';
import { defaultPassword } from './core/serverRecord';
import { folderSettingsPath, readSetting, refusedSettingsMessage, writeSetting } from './core/settingsFile';
import { credentialServerFor, ensureServer, isOurServer, serverSetting } from './serverDefs';

/** The ObjectScript extension's exported API (the parts used here). */
interface ObjectScriptApi {
  serverForUri?(uri: vscode.Uri): ServerForUri | undefined;
  asyncServerForUri?(uri: vscode.Uri): Promise<ServerForUri | undefined>;
  onDidChangeConnection?(): vscode.Event<void>;
}

/** What the folder's status-bar item shows about the connection (folders.ts renders it). */
export interface ConnView {
  objectScript?: { text: string; connected: boolean };
  serverWarning?: { server: string; host?: string; port?: number };
}

let connectionEvents: vscode.Disposable | undefined;
const connectionListeners = new Set<() => void>();

export class FolderConn implements vscode.Disposable {
  private readonly updates: ConnUpdates;
  private readonly nudge = new ConnNudge();
  /** the settings file was refused (a link out of the folder...) and the user told, this window */
  private refusedWarned = false;
  private status?: Status;
  /** JSON of the conn last written here: its own change event is not someone else's edit */
  private lastWritten?: string;
  private api?: ServerForUri;
  private probe?: ProbeResult;
  private probing = false;
  private probeAgain = false;
  private serverWarning?: ConnView['serverWarning'];
  private readonly onApiChange = () => this.refreshObjectScript();

  /** uri: the folder's URI string (the workspaceState keys); disposed: true once the folder is gone; changed: re-render. */
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly uri: string,
    private readonly folder: vscode.WorkspaceFolder,
    private readonly disposed: () => boolean,
    private readonly changed: () => void = () => undefined,
  ) {
    this.updates = new ConnUpdates((err) => this.log.error(`objectscript.conn for ${this.folder.uri.fsPath}: ${errorText(err)}`));
    connectionListeners.add(this.onApiChange);
  }

  dispose(): void {
    connectionListeners.delete(this.onApiChange);
  }

  /** What the tooltip shows about the ObjectScript connection now. */
  get view(): ConnView {
    const s = this.status;
    if (!s || s.state !== 'ready' || !s.webPort) return { serverWarning: this.serverWarning };
    const off = this.nudge.offReason;
    return {
      serverWarning: this.serverWarning,
      objectScript: objectScriptLine({
        installed: vscode.extensions.getExtension(objectScriptExtensionId) !== undefined,
        api: this.api, probe: this.probe, host: s.host, webPort: s.webPort, offText: off ? offReasonText(off) : undefined,
      }),
    };
  }

  private enabled(): boolean {
    return vscode.workspace.getConfiguration('irisHelper', this.folder.uri).get<boolean>('updateObjectScriptConnection', true);
  }

  /** A status from the helper: at a transition to ready, the conn gets its one nudge. */
  update(s: Status): void {
    this.status = s;
    if (!this.nudge.onStatus(s, Date.now())) return;
    eventLog('conn-ready-transition', { folder: this.folder.uri.fsPath, port: s.webPort, startedAt: s.startedAt });
    this.updates.queue(() => this.apply(s, 'transition'));
  }

  /** irisHelper.updateObjectScriptConnection changed: look again at the current status. */
  settingChanged(s: Status | undefined): void {
    if (s && s.state === 'ready') this.updates.queue(() => this.apply(s, 'setting'));
  }

  /** objectscript.conn changed in the settings (the ObjectScript extension's `active: false`, the user...). */
  connChanged(): void {
    this.updates.queue(async () => {
      const current = await this.readConn();
      const s = this.status;
      if (current === undefined || JSON.stringify(current) === this.lastWritten) return;
      if (current.active === false && s) {
        const what = this.nudge.onConnOff(Date.now());
        eventLog('conn-off', { folder: this.folder.uri.fsPath, action: what });
        if (what === 'undo') {
          this.log.info(`objectscript.conn of ${this.folder.uri.fsPath} was turned off within 60 s after IRIS was ready: turning it on once`);
          await this.apply(s, 'undo');
          return;
        }
      } else if (current.active === true) {
        this.nudge.onConnOn();
      }
      this.refreshObjectScript();
    });
  }

  /** Retry: make the ObjectScript extension check again (its check runs on every conn change). */
  async retry(s: Status | undefined): Promise<void> {
    if (!s || s.state !== 'ready') {
      void vscode.window.showInformationMessage(`IRIS is not ready for ${this.folder.name}; the ObjectScript extension is pointed at it once it is.`);
      return;
    }
    this.nudge.onConnOn();
    this.updates.queue(() => this.apply(s, 'retry'));
    await this.updates.idle();
  }

  /** objectscript.conn names a server on another port: this project's host/port in this folder's conn instead (the user asked). */
  async useProjectPort(s: Status | undefined): Promise<void> {
    if (!s || !s.webPort) return;
    this.updates.queue(async () => {
      const current = await this.readConn();
      const conn = projectPortConn(current, s);
      const cred = typeof conn.password === 'string' ? undefined : credentialServerFor(this.folder.name, s.project);
      if (cred) conn.server = cred;
      await this.write(s, conn, { host: s.host, port: s.webPort });
    });
    await this.updates.idle();
  }

  private async readConn(): Promise<ObjectScriptConn | undefined> {
    try {
      return (await readSetting(this.folder.uri.fsPath, 'objectscript.conn')) as ObjectScriptConn | undefined;
    } catch (err) {
      this.log.warn(`objectscript.conn of ${this.folder.uri.fsPath} could not be read: ${errorText(err)}`);
      return undefined;
    }
  }

  private async apply(s: Status, why: 'transition' | 'undo' | 'retry' | 'setting'): Promise<void> {
    try {
      await this.applyUnchecked(s, why);
    } catch (err) {
      const text = refusedSettingsMessage(this.folder.name, s.webPort, err);
      if (text === undefined) throw err;
      this.log.warn(text);
      eventLog('conn-refused', { folder: this.folder.uri.fsPath, error: errorText(err) });
      if (!this.refusedWarned) {
        this.refusedWarned = true;
        void vscode.window.showWarningMessage(text);
      }
    } finally {
      this.refreshObjectScript();
    }
  }

  private async applyUnchecked(s: Status, why: 'transition' | 'undo' | 'retry' | 'setting'): Promise<void> {
    if (this.disposed() || !this.enabled() || !s.webPort || s.state !== 'ready') return;
    this.noticeNotInstalled();
    const folderPath = this.folder.uri.fsPath;
    const writtenKey = `irisHelper.connWritten:${this.uri}`;
    const current = await this.readConn();
    const decision = decideConn({
      enabled: true,
      status: s,
      current,
      written: this.context.workspaceState.get<WrittenConn>(writtenKey),
      isOurServer,
      credentialServer: credentialServerFor(this.folder.name, s.project),
    });
    this.serverWarning = undefined;
    switch (decision.action) {
      case 'write':
        // the transition's one rewrite (an undo took it in onConnOff; Retry and the setting are the user's)
        if (why === 'transition' && !this.nudge.takeRewrite()) return;
        if (decision.notice) await this.noticePinned(decision.notice.from, s.webPort);
        await this.write(s, decision.conn, decision.written, decision);
        return;
      case 'unchanged':
        if (why === 'retry' && current) await this.bounce(s, current);
        else if (decision.form !== 'none' && current?.server && isOurServer(current.server)) await this.ensureOurServer(s, current.server);
        return;
      case 'server': {
        const def = serverSetting(decision.server, this.folder.uri);
        const port = def?.webServer?.port;
        if (port !== s.webPort) this.serverWarning = { server: decision.server, host: def?.webServer?.host, port };
        this.log.info(`objectscript.conn of ${folderPath} uses the server "${decision.server}" (left as it is; its web port ${port ?? 'unknown'}, this project's ${s.webPort})`);
        if (why === 'retry' && current) await this.bounce(s, current);
        return;
      }
      case 'foreign':
        await this.noticeForeign(decision.reason, s.webPort);
        return;
      case 'skip':
        return;
    }
  }

  /** The conn is already right: turn it off and on, so that the ObjectScript extension checks again. */
  private async bounce(s: Status, current: ObjectScriptConn): Promise<void> {
    await this.writeRaw({ ...current, active: false });
    await this.writeRaw({ ...current, active: true });
    this.log.info(`objectscript.conn of ${this.folder.uri.fsPath} rewritten for the ObjectScript extension to check again (${s.host}:${s.webPort})`);
  }

  private async write(s: Status, conn: ObjectScriptConn, written: WrittenConn, decision?: ConnDecision): Promise<void> {
    if (typeof conn.server === 'string' && isOurServerOrNew(conn.server, this.folder.name, s.project)) {
      // a conn names iris-helper's definition only once it is in the user's settings
      if (!(await this.ensureOurServer(s, conn.server)) && serverSetting(conn.server, this.folder.uri) === undefined) delete conn.server;
    }
    await this.writeRaw(conn);
    await this.context.workspaceState.update(`irisHelper.connWritten:${this.uri}`, written);
    const form = decision && decision.action === 'write' ? decision.form : 'hostPort';
    this.log.info(`objectscript.conn in ${folderSettingsPath(this.folder.uri.fsPath)} now points at ${s.host}:${s.webPort} (${form}${conn.server ? `, server "${conn.server}"` : ''})`);
    eventLog('conn-written', { folder: this.folder.uri.fsPath, port: s.webPort, form, server: conn.server ?? '' });
  }

  private async writeRaw(conn: ObjectScriptConn): Promise<void> {
    this.lastWritten = JSON.stringify(conn);
    await writeSetting(this.folder.uri.fsPath, 'objectscript.conn', conn);
  }

  /** Creates or updates iris-helper's definition; false when the user's settings refused it. */
  private async ensureOurServer(s: Status, name: string): Promise<boolean> {
    try {
      await ensureServer(name, s.host, s.webPort, s.username, s.project);
      return true;
    } catch (err) {
      this.log.warn(`the Server Manager definition "${name}" could not be written to your user settings (is Server Manager installed?): ${errorText(err)}`);
      eventLog('server-definition-failed', { folder: this.folder.uri.fsPath, server: name, error: errorText(err) });
      return false;
    }
  }

  private async noticeForeign(reason: string, webPort: number): Promise<void> {
    const noticeKey = `irisHelper.connForeignNoticed:${this.uri}`;
    this.log.info(`objectscript.conn in ${folderSettingsPath(this.folder.uri.fsPath)} left alone: ${reason}`);
    eventLog('conn-foreign', { folder: this.folder.uri.fsPath, reason });
    if (!this.context.workspaceState.get<boolean>(noticeKey)) {
      await this.context.workspaceState.update(noticeKey, true);
      void vscode.window.showInformationMessage(foreignConnMessage(this.folder.name, reason, webPort));
    }
  }

  private async noticePinned(from: number, to: number): Promise<void> {
    const noticeKey = `irisHelper.connPinnedNoticed:${this.uri}`;
    if (!this.context.workspaceState.get<boolean>(noticeKey)) {
      await this.context.workspaceState.update(noticeKey, true);
      void vscode.window.showInformationMessage(pinnedMovedMessage(this.folder.name, from, to));
    }
  }

  private noticeNotInstalled(): void {
    const key = 'irisHelper.objectScriptMissingNoticed';
    if (vscode.extensions.getExtension(objectScriptExtensionId) || this.context.workspaceState.get<boolean>(key)) return;
    void this.context.workspaceState.update(key, true);
    this.log.info(notInstalledMessage);
    void vscode.window.showInformationMessage(notInstalledMessage);
  }

  /** Asks the ObjectScript extension's API and probes /api/atelier/ with the conn's credentials; one at a time. */
  refreshObjectScript(): void {
    if (this.probing) {
      this.probeAgain = true;
      return;
    }
    this.probing = true;
    void this.refreshUnchecked().catch((err) => this.log.warn(`checking the ObjectScript connection of ${this.folder.uri.fsPath}: ${errorText(err)}`)).finally(() => {
      this.probing = false;
      if (this.probeAgain && !this.disposed()) {
        this.probeAgain = false;
        this.refreshObjectScript();
      }
    });
  }

  private async refreshUnchecked(): Promise<void> {
    const s = this.status;
    if (this.disposed() || !s || s.state !== 'ready' || !s.webPort) return;
    const ext = vscode.extensions.getExtension<ObjectScriptApi>(objectScriptExtensionId);
    if (!ext) {
      this.changed();
      return;
    }
    const api = ext.isActive ? ext.exports : await Promise.resolve(ext.activate()).catch(() => undefined);
    if (api && !connectionEvents && typeof api.onDidChangeConnection === 'function') {
      connectionEvents = api.onDidChangeConnection()(() => connectionListeners.forEach((f) => f()));
      this.context.subscriptions.push({ dispose: () => { connectionEvents?.dispose(); connectionEvents = undefined; } });
    }
    const folderUri = this.folder.uri;
    this.api = api?.asyncServerForUri ? await api.asyncServerForUri(folderUri) : api?.serverForUri?.(folderUri);
    const conn = await this.readConn();
    const server = conn?.server;
    const def = server ? serverSetting(server, folderUri) : undefined;
    const password = typeof conn?.password === 'string' ? conn.password
      : server && isOurServer(server) ? defaultPassword : typeof def?.password === 'string' ? def.password : undefined;
    if (this.api?.port && this.api.port !== s.webPort) {
      // it points elsewhere: the line says so; credentials are only ever sent to this project's IRIS
      this.probe = undefined;
    } else {
      this.probe = await probeAtelier({ host: s.host, port: s.webPort, username: this.api?.username || conn?.username || s.username, password, namespace: this.api?.namespace || conn?.ns || s.namespace });
    }
    eventLog('objectscript-status', { folder: folderUri.fsPath, active: this.api?.active, port: this.api?.port, probe: this.probe?.kind, ...this.view.objectScript });
    this.changed();
  }
}

function isOurServerOrNew(name: string, folderName: string, projectRoot: string): boolean {
  return isOurServer(name) || credentialServerFor(folderName, projectRoot) === name;
}
