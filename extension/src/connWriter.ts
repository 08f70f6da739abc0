// One folder's objectscript.conn and the ObjectScript extension's connection to the project's IRIS.
// The rules are pure and in core/: what the conn should be (objectscriptConn's decideConn: the
// compose, pinned-port, server and host/port forms), when it is written (connNudge: only once IRIS
// is ready, one rewrite per ready transition, a false within 60 s undone once), both run by
// connKeeper; what the tooltip says about the connection (objectscriptStatus) from the ObjectScript
// extension's API and our own probe (atelierProbe). The file edit, which refuses a settings file
// that leads out of the folder, is settingsFile's; the Server Manager definition that carries the
// credentials is serverDefs'. This file holds what needs VS Code.
import * as vscode from 'vscode';
import { probeAtelier, probeHost } from './core/atelierProbe';
import { offReasonText } from './core/connNudge';
import { ConnKeeper, type KeeperHost } from './core/connKeeper';
import { eventLog } from './core/eventLog';
import { errorText } from './core/messages';
import type { ObjectScriptConn, WrittenConn } from './core/objectscriptConn';
import { notInstalledMessage, objectScriptExtensionId, objectScriptLine, type ObjectScriptLine, type ProbeResult, type ServerForUri } from './core/objectscriptStatus';
import type { Status } from './core/protocol';
import { helperHome, instancePassword } from './core/serverRecord';
import { readSetting, refusedSettingsMessage, writeSetting } from './core/settingsFile';
import { credentialServerFor, ensureServer, isOurServer, serverSetting } from './serverDefs';

/** The ObjectScript extension's exported API (the parts used here). */
interface ObjectScriptApi {
  serverForUri?(uri: vscode.Uri): ServerForUri | undefined;
  asyncServerForUri?(uri: vscode.Uri): Promise<ServerForUri | undefined>;
  onDidChangeConnection?(): vscode.Event<void>;
}

/** What the folder's status-bar item shows about the connection (folders.ts renders it). */
export interface ConnView {
  objectScript?: ObjectScriptLine;
  serverWarning?: { server: string; host?: string; port?: number };
}

let connectionEvents: vscode.Disposable | undefined;
const connectionListeners = new Set<() => void>();

export class FolderConn implements vscode.Disposable {
  private readonly keeper: ConnKeeper;
  /** the settings file was refused (a link out of the folder...) and the user told, this window */
  private refusedWarned = false;
  private status?: Status;
  private api?: ServerForUri;
  private probe?: ProbeResult;
  private probing = false;
  private probeAgain = false;
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
    this.keeper = new ConnKeeper(this.host(), (err) => this.log.error(`objectscript.conn for ${this.folder.uri.fsPath}: ${errorText(err)}`),
      () => this.refreshObjectScript());
    connectionListeners.add(this.onApiChange);
  }

  dispose(): void {
    connectionListeners.delete(this.onApiChange);
  }

  private host(): KeeperHost {
    const folderPath = this.folder.uri.fsPath;
    const writtenKey = `irisHelper.connWritten:${this.uri}`;
    return {
      folderName: this.folder.name,
      enabled: () => !this.disposed() && vscode.workspace.getConfiguration('irisHelper', this.folder.uri).get<boolean>('updateObjectScriptConnection', true),
      readConn: async () => (await readSetting(folderPath, 'objectscript.conn')) as ObjectScriptConn | undefined,
      writeConn: (conn) => writeSetting(folderPath, 'objectscript.conn', conn),
      getWritten: () => this.context.workspaceState.get<WrittenConn>(writtenKey),
      setWritten: async (w) => {
        await this.context.workspaceState.update(writtenKey, w);
      },
      isOurServer,
      credentialServer: (s) => credentialServerFor(this.folder.name, s.project),
      ensureServer: async (name, s) => {
        try {
          await ensureServer(name, s.host, s.webPort, s.username, s.project);
          return true;
        } catch (err) {
          this.log.warn(`the Server Manager definition "${name}" could not be written to your user settings (is Server Manager installed?): ${errorText(err)}`);
          eventLog('server-definition-failed', { folder: folderPath, server: name, error: errorText(err) });
          return false;
        }
      },
      serverWebServer: (name) => {
        const def = serverSetting(name, this.folder.uri);
        return def === undefined ? undefined : { host: def.webServer?.host, port: def.webServer?.port };
      },
      noticeOnce: async (key, text) => {
        const noticeKey = key === 'foreign' ? `irisHelper.connForeignNoticed:${this.uri}` : `irisHelper.connPinnedNoticed:${this.uri}`;
        if (this.context.workspaceState.get<boolean>(noticeKey)) return;
        await this.context.workspaceState.update(noticeKey, true);
        void vscode.window.showInformationMessage(text);
      },
      refused: (err, s) => {
        const text = refusedSettingsMessage(this.folder.name, s.webPort, err);
        if (text === undefined) return false;
        this.log.warn(text);
        eventLog('conn-refused', { folder: folderPath, error: errorText(err) });
        if (!this.refusedWarned) {
          this.refusedWarned = true;
          void vscode.window.showWarningMessage(text);
        }
        return true;
      },
      log: (text) => this.log.info(`${folderPath}: ${text}`),
      event: (name, data) => eventLog(name, { folder: folderPath, ...data }),
      now: () => Date.now(),
    };
  }

  /** What the tooltip shows about the ObjectScript connection now. */
  get view(): ConnView {
    const s = this.status;
    const serverWarning = this.keeper.serverWarning;
    if (!s || s.state !== 'ready' || !s.webPort) return { serverWarning };
    const off = this.keeper.nudge.offReason;
    return {
      serverWarning,
      objectScript: objectScriptLine({
        installed: vscode.extensions.getExtension(objectScriptExtensionId) !== undefined,
        api: this.api, probe: this.probe, host: s.host, webPort: s.webPort, offText: off ? offReasonText(off) : undefined,
      }),
    };
  }

  /** A status from the helper. */
  update(s: Status): void {
    this.status = s;
    if (s.state === 'ready' && vscode.workspace.getConfiguration('irisHelper', this.folder.uri).get<boolean>('updateObjectScriptConnection', true)) this.noticeNotInstalled();
    this.keeper.update(s);
  }

  /** irisHelper.updateObjectScriptConnection changed: look again at the current status. */
  settingChanged(): void {
    this.keeper.settingChanged();
  }

  /** objectscript.conn changed in the settings (the ObjectScript extension's `active: false`, the user...). */
  connChanged(): void {
    this.keeper.connChanged();
  }

  /** Retry: make the ObjectScript extension check again. */
  async retry(): Promise<void> {
    if (!(await this.keeper.retry())) {
      void vscode.window.showInformationMessage(`IRIS is not ready for ${this.folder.name}; the ObjectScript extension is pointed at it once it is.`);
    }
  }

  /** objectscript.conn names a server on another port: this project's host/port in this folder's conn instead. */
  useProjectPort(): Promise<void> {
    return this.keeper.useProjectPort();
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
    if (this.disposed()) return;
    if (!s || s.state !== 'ready' || !s.webPort) {
      this.changed();
      return;
    }
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
    if (this.api?.port && this.api.port !== s.webPort) {
      // it points elsewhere: the line says so; credentials are only ever sent to this project's IRIS
      this.probe = undefined;
    } else {
      let conn: ObjectScriptConn | undefined;
      try {
        conn = (await readSetting(folderUri.fsPath, 'objectscript.conn')) as ObjectScriptConn | undefined;
      } catch {
        conn = undefined;
      }
      const server = conn?.server;
      const def = server ? serverSetting(server, folderUri) : undefined;
      const password = typeof conn?.password === 'string' ? conn.password
        : server && isOurServer(server) ? instancePassword(helperHome(), s.project) : typeof def?.password === 'string' ? def.password : undefined;
      this.probe = await probeAtelier({ host: probeHost(s), port: s.webPort, username: this.api?.username || conn?.username || s.username, password, namespace: this.api?.namespace || conn?.ns || s.namespace });
    }
    eventLog('objectscript-status', { folder: folderUri.fsPath, active: this.api?.active, port: this.api?.port, probe: this.probe?.kind, ...this.view.objectScript });
    this.changed();
  }
}
