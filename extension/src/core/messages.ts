// window/showMessage from a folder's helper -> what the window shows. The helper warns once per
// session (a refused .env, IRIS reachable from the network, restart needed); the extension starts a
// new session for a folder whenever a setting restarts its helper or the helper crashes, so a
// warning with the same text for the same folder is shown once per window, and only logged after
// that. Errors and information are shown every time, as vscode-languageclient would. No `vscode` import.

/** LSP MessageType. */
export const MessageType = { error: 1, warning: 2, info: 3, log: 4 } as const;

export type Severity = 'error' | 'warning' | 'info';

/** LSP's mapping (vscode-languageclient's): 1 error, 2 warning, anything else information. */
export function severity(type: number): Severity {
  if (type === MessageType.error) return 'error';
  if (type === MessageType.warning) return 'warning';
  return 'info';
}

/** The output channel's level for a message of this severity. */
export function channelLevel(sev: Severity): 'info' | 'warn' | 'error' {
  if (sev === 'warning') return 'warn';
  return sev;
}

/** The text of a thrown value, for a message or a log line. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Remembers the warnings shown in this window. */
export class MessageGate {
  private readonly shown = new Set<string>();

  /** How to show a message from the helper of folder; undefined: already shown, only log it. */
  decide(folder: string, type: number, text: string): Severity | undefined {
    const sev = severity(type);
    if (sev !== 'warning') return sev;
    const key = JSON.stringify([folder, text]);
    if (this.shown.has(key)) return undefined;
    this.shown.add(key);
    return sev;
  }
}
