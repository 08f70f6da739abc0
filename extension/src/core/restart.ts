// A restart that would lose data asks first (issue 10, rule 10): the helper answers iris/restart
// with ConfirmRequired (-32020, data {container, reason}) when the restart must recreate a
// container whose data is not on a volume; the user sees what would be lost in a modal and, on
// "Restart anyway", the restart is sent with {"confirm": true, "container": <the one named>}, so
// the confirmation covers only the container the user saw. iris/start answers the same error when
// it keeps such a container: the start command then offers that restart. No `vscode` import.
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

/** The params of the restart that confirms c: the container it named, when it named one. */
export function confirmParams(c: ConfirmRequired): RestartParams {
  return c.container !== '' ? { confirm: true, container: c.container } : { confirm: true };
}

/** The outcome of restartWithConfirm and startWithConfirm. */
export type RestartOutcome<S> = { kind: 'done'; status: S } | { kind: 'cancelled'; confirm: ConfirmRequired };

type Ask = (prompt: { message: string; detail: string }) => Promise<string | undefined>;

/**
 * Runs first; when the helper asks for confirmation, asks the user (ask resolves to the chosen
 * button, undefined for Cancel/Escape) and, on restartAnyway, sends the confirmed restart. Any
 * other error (and an error of the confirmed request) is thrown as it came.
 */
async function withConfirm<S>(first: () => Promise<S>, restart: (params: RestartParams) => Promise<S>, ask: Ask, folderName: string): Promise<RestartOutcome<S>> {
  try {
    return { kind: 'done', status: await first() };
  } catch (err) {
    const c = confirmRequired(err);
    if (!c) throw err;
    const pick = await ask(confirmPrompt(folderName, c));
    if (pick !== restartAnyway) return { kind: 'cancelled', confirm: c };
    return { kind: 'done', status: await restart(confirmParams(c)) };
  }
}

/** Sends iris/restart; when the helper asks for confirmation, asks, then sends the confirmed restart. */
export function restartWithConfirm<S>(request: (params: RestartParams) => Promise<S>, ask: Ask, folderName: string): Promise<RestartOutcome<S>> {
  return withConfirm(() => request({}), request, ask, folderName);
}

/**
 * Sends iris/start; when the helper answers that the start kept a container whose data is not on a
 * volume (-32020), asks as a restart would and, on restartAnyway, sends the confirmed iris/restart:
 * the way forward the start alone cannot take.
 */
export function startWithConfirm<S>(start: () => Promise<S>, restart: (params: RestartParams) => Promise<S>, ask: Ask, folderName: string): Promise<RestartOutcome<S>> {
  return withConfirm(start, restart, ask, folderName);
}

/**
 * The sentence the helper ends a start's failure with when that start (the auto-start) kept a
 * container whose data is not on a volume (docs/protocol.md, -32020).
 */
export const restartRemedy = 'To recreate it, run "IRIS: Restart" (it asks first).';

/** The action offered with such a message: it runs IRIS: Restart, whose modal asks first. */
export const restartAction = 'Restart…';

/** How to show a helper's message: as a warning with restartAction when it ends with restartRemedy. */
export function restartOffer(type: number, text: string): { warning: true; action: string } | undefined {
  return type === 1 && text.endsWith(restartRemedy) ? { warning: true, action: restartAction } : undefined;
}
