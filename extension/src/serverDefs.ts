// The user-scope Server Manager definitions IRIS Helper keeps for projects whose objectscript.conn
// has no password of its own (issue 13 §3): `intersystems.servers["iris-helper-<folder>-<8hex>"]`
// in the user's settings (never the folder's or workspace's, so no password lands in the project
// tree), recorded in $IRIS_HELPER_HOME/vscode-servers.json (core/serverRecord). A definition not
// recorded there is the user's and is never written. The one place the extension writes a setting
// through VS Code's configuration API, and only at user (Global) scope.
import * as vscode from 'vscode';
import { objectScriptExtensionId, serverManagerExtensionId } from './core/objectscriptStatus';
import { helperHome, instancePassword, readServerRecord, recordServer, sameDefinition, serverDefinition, serverName, type ServerDefinition } from './core/serverRecord';

/** The user's settings refused intersystems.servers this session (not a registered setting): no definition is tried again. */
let settingsRefused = false;

/** Whether a definition is iris-helper's (recorded). */
export function isOurServer(name: string): boolean {
  return name in readServerRecord(helperHome()).servers;
}

/** The user's (or iris-helper's) definition named name, as the settings hold it. */
export function serverSetting(name: string, scope?: vscode.Uri): ServerDefinition | undefined {
  return vscode.workspace.getConfiguration('intersystems.servers', scope).get<ServerDefinition>(name);
}

/**
 * The definition the folder's conn should name when it has no password, or undefined when there
 * can be none: neither Server Manager nor the ObjectScript extension (which depends on it) is
 * installed, or a definition of that name exists that iris-helper did not create. (ensureServer
 * may still fail when intersystems.servers is not a registered setting; the conn then names none.)
 */
export function credentialServerFor(folderName: string, projectRoot: string): string | undefined {
  if (settingsRefused) return undefined;
  if (!vscode.extensions.getExtension(serverManagerExtensionId) && !vscode.extensions.getExtension(objectScriptExtensionId)) return undefined;
  const name = serverName(folderName, projectRoot);
  const existing = vscode.workspace.getConfiguration('intersystems').inspect<Record<string, unknown>>('servers')?.globalValue?.[name];
  if (existing !== undefined && !isOurServer(name)) return undefined;
  return name;
}

/** Creates or updates iris-helper's definition at user scope, and records it. */
export async function ensureServer(name: string, host: string, port: number, username: string, projectRoot: string): Promise<void> {
  const def = serverDefinition(host, port, username, projectRoot, instancePassword(helperHome(), projectRoot));
  const cfg = vscode.workspace.getConfiguration('intersystems');
  const all = { ...(cfg.inspect<Record<string, unknown>>('servers')?.globalValue ?? {}) };
  if (all[name] !== undefined && !isOurServer(name)) return;
  // recorded first: a definition in the settings is never one iris-helper cannot tell as its own
  recordServer(helperHome(), name, projectRoot);
  if (sameDefinition(all[name], def)) return;
  all[name] = def;
  try {
    await cfg.update('servers', all, vscode.ConfigurationTarget.Global);
  } catch (err) {
    settingsRefused = true;
    throw err;
  }
}
