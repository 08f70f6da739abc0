// A restart that would lose data asks first (issue 10, rule 10): the helper answers iris/restart
// with ConfirmRequired (-32020, data {container, reason}) when the restart must recreate a
// container whose data is not on a volume; the user sees what would be lost in a modal and, on
// "Restart anyway", the request is sent again with {"confirm": true}. No `vscode` import.
import { ErrorCodes, type ErrorData, type RestartParams } from './protocol';

/** What the helper said a restart would lose. */
export interface ConfirmRequired {
  /** The helper's message (it says what would be lost). */
  message: string;
  container: string;
  reason: string;
}

/** The ConfirmRequired in an error from sendRequest (a vscode-jsonrpc ResponseError), else undefined. */
export function confirmRequired(err: unknown): ConfirmRequired | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; message?: unknown; data?: unknown };
  if (e.code !== ErrorCodes.confirmRequired) return undefined;
  const d = (e.data && typeof e.data === 'object' ? e.data : {}) as Partial<Record<keyof ErrorData, unknown>>;
  return {
    message: typeof e.message === 'string' ? e.message : '',
    container: typeof d.container === 'string' ? d.container : '',
    reason: typeof d.reason === 'string' ? d.reason : '',
  };
}

/** The button that confirms; the modal's own Cancel declines. */
export const restartAnyway = 'Restart anyway';

/** The modal: the helper's message as the title, the container and reason as the detail. */
export function confirmPrompt(folderName: string, c: ConfirmRequired): { message: string; detail: string } {
  const message = c.message !== '' ? c.message : `Restarting IRIS for ${folderName} would lose data.`;
  const detail = [
    c.container !== '' ? `Container: ${c.container}` : '',
    c.reason !== '' ? `Why: ${c.reason}` : '',
    `Restart anyway recreates the container; its data is gone for good. Cancel leaves IRIS as it is.`,
  ].filter((l) => l !== '').join('\n');
  return { message, detail };
}

/** The outcome of restartWithConfirm. */
export type RestartOutcome<S> = { kind: 'done'; status: S } | { kind: 'cancelled'; confirm: ConfirmRequired };

/**
 * Sends iris/restart; when the helper asks for confirmation, asks the user (ask resolves to the
 * chosen button, undefined for Cancel/Escape) and, on restartAnyway, sends it again with confirm.
 * Any other error (and an error of the confirmed request) is thrown as it came.
 */
export async function restartWithConfirm<S>(
  request: (params: RestartParams) => Promise<S>,
  ask: (prompt: { message: string; detail: string }) => Promise<string | undefined>,
  folderName: string,
): Promise<RestartOutcome<S>> {
  try {
    return { kind: 'done', status: await request({}) };
  } catch (err) {
    const c = confirmRequired(err);
    if (!c) throw err;
    const pick = await ask(confirmPrompt(folderName, c));
    if (pick !== restartAnyway) return { kind: 'cancelled', confirm: c };
    return { kind: 'done', status: await request({ confirm: true }) };
  }
}
