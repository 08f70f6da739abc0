// Release Port: a modal asks first; the helper refuses while the container runs, and the error
// then offers "Stop and Release", which sends iris/release again with {"force": true} (the
// editor's remedy; the CLI's is --force). No `vscode` import.
import { errorText } from './messages';
import type { ReleaseParams } from './protocol';

/** The modal's confirming button. */
export const releaseButton = 'Release';
/** The button on a refused release that stops the container and releases. */
export const stopAndReleaseButton = 'Stop and Release';

/** The modal's question; names the ports when the folder has them. */
export function releaseQuestion(folderName: string, s?: { superserverPort: number; webPort: number }): string {
  const ports = s && s.superserverPort ? ` ${s.superserverPort}/${s.webPort}` : '';
  return `Release the ports${ports} of ${folderName}? Its IRIS container is removed and the ports may go to another project.`;
}

export function releasedMessage(folderName: string, released: { superserverPort: number; webPort: number }): string {
  return `IRIS: released ports ${released.superserverPort}/${released.webPort} of ${folderName}.`;
}

export function releaseFailedMessage(folderName: string, err: unknown): string {
  return `IRIS: release failed for ${folderName}: ${errorText(err)}`;
}

export type ReleaseOutcome = { kind: 'released'; forced: boolean } | { kind: 'declined' } | { kind: 'failed'; message: string };

/**
 * Runs the release; when it fails, offerForce shows the failure with stopAndReleaseButton (it
 * resolves to the chosen button, undefined when dismissed) and, on that button, runs it again
 * with force. A forced release that fails too is 'failed' with the message to show.
 */
export async function releaseWithForce(
  run: (params: ReleaseParams) => Promise<void>,
  offerForce: (message: string) => Promise<string | undefined>,
  folderName: string,
): Promise<ReleaseOutcome> {
  try {
    await run({});
    return { kind: 'released', forced: false };
  } catch (err) {
    const pick = await offerForce(releaseFailedMessage(folderName, err));
    if (pick !== stopAndReleaseButton) return { kind: 'declined' };
  }
  try {
    await run({ force: true });
    return { kind: 'released', forced: true };
  } catch (err) {
    return { kind: 'failed', message: releaseFailedMessage(folderName, err) };
  }
}
