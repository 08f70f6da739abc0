// A compose project whose files do what a repository may not do on its own (a mount outside the
// project, privileged, the Docker socket...; docs/config.md) is started only with the user's
// consent: the helper answers iris/start with ConsentRequired (-32022, data {items: [{id, service,
// text}]}); the user sees the items in a modal and, on "Allow and Start", the start is sent again
// with {"allow": [the ids]}, so the consent covers exactly the items the user saw. The auto-start's
// refusal comes as a message ending with consentRemedy, offered with an action that runs IRIS:
// Start (which asks). No `vscode` import.
import { ErrorCodes, type ConsentItem, type StartParams } from './protocol';

/** What the helper said needs the user's consent. */
export interface ConsentRequired {
  /** The helper's message (it lists the items). */
  message: string;
  items: ConsentItem[];
}

/** The ConsentRequired in an error from sendRequest (a vscode-jsonrpc ResponseError), else undefined. */
export function consentRequired(err: unknown): ConsentRequired | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; message?: unknown; data?: unknown };
  if (e.code !== ErrorCodes.consentRequired) return undefined;
  const d = (e.data && typeof e.data === 'object' ? e.data : {}) as { items?: unknown };
  const items = Array.isArray(d.items)
    ? d.items.filter((i): i is ConsentItem => !!i && typeof i === 'object' && typeof (i as ConsentItem).id === 'string' && typeof (i as ConsentItem).text === 'string')
    : [];
  return { message: typeof e.message === 'string' ? e.message : '', items };
}

/** The button that allows; the modal's own Cancel declines. */
export const allowAndStart = 'Allow and Start';

/** The modal: one line per item, then what allowing means. */
export function consentPrompt(folderName: string, c: ConsentRequired): { message: string; detail: string } {
  return {
    message: `The compose project of ${folderName} does what a repository's files may not do on their own.`,
    detail: [...c.items.map((i) => `• ${i.text}`), '',
      'Allow and Start allows exactly these for this project (asked again if the files add more). Cancel starts nothing.'].join('\n'),
  };
}

/** The params of the start that allows c's items, beside the start's own params. */
export function allowParams(params: StartParams, c: ConsentRequired): StartParams {
  return { ...params, allow: c.items.map((i) => i.id) };
}

export type ConsentOutcome<S> = { kind: 'done'; status: S } | { kind: 'declined'; consent: ConsentRequired };

/**
 * Sends start(params); when the helper asks for consent, asks the user (ask resolves to the chosen
 * button, undefined for Cancel/Escape) and, on allowAndStart, sends the start again with the
 * items' ids. Any other error is thrown as it came.
 */
export async function startWithConsent<S>(start: (params: StartParams) => Promise<S>, params: StartParams,
  ask: (prompt: { message: string; detail: string }) => Promise<string | undefined>, folderName: string): Promise<ConsentOutcome<S>> {
  try {
    return { kind: 'done', status: await start(params) };
  } catch (err) {
    const c = consentRequired(err);
    if (!c) throw err;
    if ((await ask(consentPrompt(folderName, c))) !== allowAndStart) return { kind: 'declined', consent: c };
    return { kind: 'done', status: await start(allowParams(params, c)) };
  }
}

/** The sentence the helper ends the auto-start's refusal with (rpc/errors.go, RemedyAllowCompose). */
export const consentRemedy = 'To allow them for this project, run "IRIS: Start" and choose "Allow and Start".';

/** The action offered with such a message: it runs IRIS: Start, whose modal asks. */
export const consentAction = 'Start…';

/** How to show a helper's message: as a warning with consentAction when it ends with consentRemedy. */
export function consentOffer(text: string): { action: string } | undefined {
  return text.endsWith(consentRemedy) ? { action: consentAction } : undefined;
}
