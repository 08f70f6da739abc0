// The extension's own events (activation time, statuses, objectscript.conn writes...) as JSON
// lines appended to $IRIS_HELPER_EXTENSION_LOG: a debugging aid, and what the e2e reads. Unset =
// off. No `vscode` import.
import * as fs from 'node:fs';

/** Appends {time, event, ...data} as one line to file; never throws (a debugging aid must not break the extension). */
export function eventLog(event: string, data: Record<string, unknown> = {}, file = process.env.IRIS_HELPER_EXTENSION_LOG, now = new Date()): void {
  if (!file) return;
  try {
    fs.appendFileSync(file, JSON.stringify({ time: now.toISOString(), event, ...data }) + '\n');
  } catch {
    // a debugging aid must never break the extension
  }
}
