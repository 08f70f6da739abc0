// IRIS Helper for VS Code: one helper (`iris-helper serve --stdio`) per workspace folder, a
// status-bar item per folder that renders the helper's status, the IRIS commands, and the
// objectscript.conn rule. This file is activate/deactivate only (rust-analyzer's main.ts):
//   folders.ts     the folders, their helpers and status-bar items (lifecycle, restarts on setting changes)
//   connWriter.ts  each folder's objectscript.conn
//   commands.ts    the command handlers
//   helperClient.ts  the vscode-languageclient connection (a second bundle, loaded off the activation path)
//   core/          everything that needs no `vscode` (unit-tested with node --test)
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { activationReport } from './core/activation';
import { eventLog } from './core/eventLog';
import { Folders } from './folders';

// set by the bundle's first and last statements (esbuild.mjs banner/footer); absent in unbundled builds
declare const __irisHelperLoadStart: number | undefined;
declare const __irisHelperLoadEnd: number | undefined;

let folders: Folders | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const t0 = performance.now();
  const f = new Folders(context);
  folders = f;
  context.subscriptions.push(
    ...registerCommands(f),
    vscode.workspace.onDidChangeWorkspaceFolders(() => f.sync()),
    vscode.workspace.onDidChangeConfiguration((e) => f.onConfigChange(e)),
    vscode.workspace.onDidGrantWorkspaceTrust(() => f.onTrustGranted()),
  );
  f.sync();
  const t1 = performance.now();
  const report = activationReport(t0, t1,
    typeof __irisHelperLoadStart === 'number' ? __irisHelperLoadStart : NaN,
    typeof __irisHelperLoadEnd === 'number' ? __irisHelperLoadEnd : NaN);
  f.log.info(report.line);
  eventLog('activate', report.event);
}

export async function deactivate(): Promise<void> {
  await folders?.stopAll();
  folders = undefined;
}
