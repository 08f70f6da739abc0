// The helper's stderr lines, as the extension shows them in the folder's output channel. The
// helper logs with Go's log/slog text handler: `time=… level=INFO msg=… key=value …`. The
// language client's default puts every stderr line under [error]; this reads the level instead,
// so an INFO line shows as [info], and drops the time and level fields the channel shows itself.
// No `vscode` import.

export type HelperLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface HelperLogLine {
  level: HelperLogLevel;
  text: string;
}

// slog's text handler: time first (when set), then the level, which may carry an offset
// ("WARN+2", "DEBUG-4").
const SLOG_HEADER = /^(?:time=\S+ )?level=(DEBUG|INFO|WARN|ERROR)(?:[+-]\d+)? /;

const LEVELS: Record<string, HelperLogLevel> = { DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * The level and the text to show for one stderr line. A line that is not a slog record (a Go
 * panic, a crash from the runtime) is unexpected and stays an error, unchanged.
 */
export function parseHelperLogLine(line: string): HelperLogLine {
  const m = SLOG_HEADER.exec(line);
  if (!m) return { level: 'error', text: line };
  const rest = line.slice(m[0].length);
  // msg=initialize client=… → initialize client=… ; msg="two words" k=v → two words k=v
  const quoted = /^msg="((?:[^"\\]|\\.)*)"(.*)$/.exec(rest);
  if (quoted) return { level: LEVELS[m[1]], text: unquote(quoted[1]) + quoted[2] };
  return { level: LEVELS[m[1]], text: rest.replace(/^msg=/, '') };
}

function unquote(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}
