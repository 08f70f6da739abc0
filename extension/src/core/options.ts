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
}

const syncEnvValues = new Set(['auto', 'true', 'false']);

/**
 * initializationOptions for a folder's helper. An untrusted workspace never auto-starts.
 * Unknown or empty values fall back to the defaults the settings declare.
 */
export function initializationOptions(s: HelperSettings, trusted: boolean): InitializationOptions {
  let syncEnv = typeof s.syncEnv === 'boolean' ? String(s.syncEnv) : (s.syncEnv ?? 'auto').trim().toLowerCase();
  if (!syncEnvValues.has(syncEnv)) syncEnv = 'auto';
  return {
    autoStart: trusted && (s.autoStart ?? true),
    image: (s.image ?? '').trim(),
    syncEnv,
    bindAddress: (s.bindAddress ?? '').trim() || '127.0.0.1',
    stopOnExit: s.stopOnExit ?? false,
    commandProvider: false,
  };
}

/** The setting keys (below irisHelper.) whose change needs the helper restarted to take effect. */
export const restartingSettings = ['autoStart', 'image', 'syncEnv', 'bindAddress', 'stopOnExit', 'helperPath'] as const;
