// IRIS: Stop and Delete Data (issue 12 §6): iris/stop {"remove": true, "purge": true} removes the
// project's containers and deletes its data — a compose project's volumes (`docker compose down
// -v`), the image kind's durable volume. It asks first in a modal; the answer names the volumes
// the helper deleted (iris/stop's removedVolumes). No `vscode` import.
import type { StopParams } from './protocol';

/** The button that deletes; the modal's own Cancel keeps everything. */
export const deleteData = 'Delete Data';

export const purgeParams: StopParams = { remove: true, purge: true };

/** The modal before anything is removed. */
export function purgePrompt(folderName: string, kind: string | undefined): { message: string; detail: string } {
  const what = kind === 'compose'
    ? "its compose project's containers and every volume of the compose project (docker compose down -v)"
    : "its container and its durable volume";
  return {
    message: `Stop IRIS for ${folderName} and delete its data?`,
    detail: `This removes ${what}: the databases and settings kept there are gone for good. The project's files are not touched. Cancel leaves IRIS as it is.`,
  };
}

/** What was deleted, from iris/stop's removedVolumes. */
export function purgedMessage(folderName: string, volumes: readonly string[] | undefined): string {
  const v = volumes ?? [];
  return v.length === 0
    ? `IRIS for ${folderName} is stopped and removed; it had no volume to delete.`
    : `IRIS for ${folderName} is stopped and removed; deleted ${v.length === 1 ? 'volume' : 'volumes'} ${v.join(', ')}.`;
}
