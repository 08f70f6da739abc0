// One folder's objectscript.conn: points the InterSystems ObjectScript extension at the project's
// IRIS in the folder's .vscode/settings.json whenever the helper reports a new web port. The rule
// (write, leave a foreign connection alone, skip) is core/objectscriptConn's decideConn; the file
// edit, which refuses a settings file that leads out of the folder, is core/settingsFile's; the
// queue (one update at a time, a port once) is core/connUpdates'. This file holds what needs VS
// Code: the setting, workspaceState (what was written, the notice shown once) and the messages.
import * as vscode from 'vscode';
import { ConnUpdates } from './core/connUpdates';
import { eventLog } from './core/eventLog';
import { errorText } from './core/messages';
import { decideConn, foreignConnMessage, type ObjectScriptConn, type WrittenConn } from './core/objectscriptConn';
import type { Status } from './core/protocol';
import { folderSettingsPath, readSetting, refusedSettingsMessage, writeSetting } from './core/settingsFile';

export class FolderConn {
  private readonly updates: ConnUpdates;
  /** the settings file was refused (a link out of the folder...) and the user told, this window */
  private refusedWarned = false;

  /** uri: the folder's URI string (the workspaceState keys); disposed: true once the folder is gone. */
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly uri: string,
    private readonly folder: vscode.WorkspaceFolder,
    private readonly disposed: () => boolean,
  ) {
    this.updates = new ConnUpdates((err) => this.log.error(`objectscript.conn for ${this.folder.uri.fsPath}: ${errorText(err)}`));
  }

  /** A status from the helper: queue an update when its web port is new. */
  update(s: Status): void {
    this.updates.update(s.webPort, () => this.apply(s));
  }

  /** irisHelper.updateObjectScriptConnection changed: look again at the current status. */
  settingChanged(s: Status | undefined): void {
    this.updates.forget();
    if (s) this.update(s);
  }

  private async apply(s: Status): Promise<void> {
    try {
      await this.applyUnchecked(s);
    } catch (err) {
      const text = refusedSettingsMessage(this.folder.name, s.webPort, err);
      if (text === undefined) throw err;
      this.log.warn(text);
      eventLog('conn-refused', { folder: this.folder.uri.fsPath, error: errorText(err) });
      if (!this.refusedWarned) {
        this.refusedWarned = true;
        void vscode.window.showWarningMessage(text);
      }
    }
  }

  private async applyUnchecked(s: Status): Promise<void> {
    if (this.disposed()) return;
    const enabled = vscode.workspace.getConfiguration('irisHelper', this.folder.uri).get<boolean>('updateObjectScriptConnection', true);
    if (!enabled || !s.webPort) return;
    const folderPath = this.folder.uri.fsPath;
    const file = folderSettingsPath(folderPath);
    const writtenKey = `irisHelper.connWritten:${this.uri}`;
    const current = (await readSetting(folderPath, 'objectscript.conn')) as ObjectScriptConn | undefined;
    const decision = decideConn({
      enabled,
      status: s,
      current,
      written: this.context.workspaceState.get<WrittenConn>(writtenKey),
    });
    if (decision.action === 'write') {
      await writeSetting(folderPath, 'objectscript.conn', decision.conn);
      await this.context.workspaceState.update(writtenKey, decision.written);
      this.log.info(`objectscript.conn in ${file} now points at ${s.host}:${s.webPort}`);
      eventLog('conn-written', { folder: folderPath, port: s.webPort });
    } else if (decision.action === 'foreign') {
      const noticeKey = `irisHelper.connForeignNoticed:${this.uri}`;
      this.log.info(`objectscript.conn in ${file} left alone: ${decision.reason}`);
      eventLog('conn-foreign', { folder: folderPath, reason: decision.reason });
      if (!this.context.workspaceState.get<boolean>(noticeKey)) {
        await this.context.workspaceState.update(noticeKey, true);
        void vscode.window.showInformationMessage(foreignConnMessage(this.folder.name, decision.reason, s.webPort));
      }
    }
  }
}
