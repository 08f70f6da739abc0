// Settings (irisHelper.*) -> the helper's initializationOptions. No `vscode` import.
import type { InitializationOptions } from './protocol';

/** The irisHelper.* settings of one folder, as read from the configuration. */
export interface HelperSettings {
  autoStart?: boolean;
  image?: string;
  syncEnv?: string | boolean;
  bindAddress?: string;
  stopOnExit?: boolean;
  helperPath?: string;
  dockerPath?: string;
  allowEnvFileOutsideProject?: boolean;
  allowNetworkBind?: boolean;
}

/**
 * Settings whose value widens what the helper does (a binary that is executed, an address IRIS is
 * published on, permission to write outside the project or to expose IRIS): only the user's own
 * choice counts, so they are read from the user (global/remote) scope alone, never from workspace
 * or folder settings, which come from the repository (issue 10, "Whose word counts").
 */
export const userOnlySettings = ['helperPath', 'dockerPath', 'bindAddress', 'allowEnvFileOutsideProject', 'allowNetworkBind'] as const;

/** What settings() needs of vscode.WorkspaceConfiguration. */
export interface ConfigurationReader {
  get<T>(key: string): T | undefined;
  inspect<T>(key: string): { globalValue?: T } | undefined;
}

/** A folder's settings: the user-only ones from inspect().globalValue, the others merged as VS Code does. */
export function readSettings(cfg: ConfigurationReader): HelperSettings {
  const user = (key: (typeof userOnlySettings)[number]): unknown => cfg.inspect<unknown>(key)?.globalValue;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const bool = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
  return {
    autoStart: cfg.get<boolean>('autoStart'),
    image: cfg.get<string>('image'),
    syncEnv: cfg.get<string | boolean>('syncEnv'),
    bindAddress: str(user('bindAddress')),
    stopOnExit: cfg.get<boolean>('stopOnExit'),
    helperPath: str(user('helperPath')),
    dockerPath: str(user('dockerPath')),
    allowEnvFileOutsideProject: bool(user('allowEnvFileOutsideProject')),
    allowNetworkBind: bool(user('allowNetworkBind')),
  };
}

const syncEnvValues = new Set(['auto', 'true', 'false']);

/**
 * initializationOptions for a folder's helper. An untrusted workspace never auto-starts.
 * Unknown or empty values fall back to the defaults the settings declare; a knob is on only
 * when it is exactly true.
 */
export function initializationOptions(s: HelperSettings, trusted: boolean): InitializationOptions {
  let syncEnv = typeof s.syncEnv === 'boolean' ? String(s.syncEnv) : (s.syncEnv ?? 'auto').trim().toLowerCase();
  if (!syncEnvValues.has(syncEnv)) syncEnv = 'auto';
  return {
    autoStart: trusted && (s.autoStart ?? true),
    image: (s.image ?? '').trim(),
    syncEnv,
    bindAddress: (typeof s.bindAddress === 'string' ? s.bindAddress.trim() : '') || '127.0.0.1',
    stopOnExit: s.stopOnExit ?? false,
    commandProvider: false,
    allowEnvFileOutsideProject: s.allowEnvFileOutsideProject === true,
    allowNetworkBind: s.allowNetworkBind === true,
    dockerPath: (typeof s.dockerPath === 'string' ? s.dockerPath.trim() : ''),
  };
}

/** The setting keys (below irisHelper.) whose change needs the helper restarted to take effect. */
export const restartingSettings = ['autoStart', 'image', 'syncEnv', 'bindAddress', 'stopOnExit', 'helperPath', 'dockerPath', 'allowEnvFileOutsideProject', 'allowNetworkBind'] as const;

/**
 * What a configuration change means for one folder: restart its helper, look at objectscript.conn
 * again (the knob changed), see what someone else wrote into objectscript.conn (the ObjectScript
 * extension's `active: false`...), or nothing.
 */
export type ConfigChangeAction = 'restart' | 'conn' | 'connChanged' | undefined;

/** affects: ConfigurationChangeEvent.affectsConfiguration for the folder. A restarting setting wins. */
export function configChangeAction(affects: (section: string) => boolean): ConfigChangeAction {
  if (restartingSettings.some((k) => affects(`irisHelper.${k}`))) return 'restart';
  if (affects('irisHelper.updateObjectScriptConnection')) return 'conn';
  if (affects('objectscript.conn')) return 'connChanged';
  return undefined;
}
