// When objectscript.conn is written (issue 13 §2): only once IRIS is ready — the helper says
// ready only after IRIS answered HTTP on the web port since the container's current StartedAt —
// never while it starts. Each transition to ready (first start, restart, port move, IRIS
// restarted outside the editor, an editor reload) allows one rewrite: at the transition, when the
// conn is off or its port moved (decideConn says write); or, failing that, to undo an
// `"active": false` written within 60 s after ready (the ObjectScript extension's check that
// began before IRIS answered). A later false (the user turned it off, or a 401) is left alone and
// the tooltip says why. A pure state machine: the caller passes the time. No `vscode` import.
import type { Status } from './protocol';

/** How long after ready a false counts as a check that began before ready. */
export const undoWindowMs = 60_000;

/** Why the conn is off and stays off (the tooltip says it), or undefined. */
export type OffReason = 'late' | 'spent';

export class ConnNudge {
  /** startedAt|webPort of the ready run the last transition was; undefined while not ready */
  private run?: string;
  private readyAt = 0;
  private rewrites = 0;
  private off?: OffReason;

  /**
   * A status from the helper. True when it is a transition to ready: the caller then decides the
   * conn and, when it must be written, asks takeRewrite().
   */
  onStatus(s: Pick<Status, 'state' | 'startedAt' | 'webPort'>, now: number): boolean {
    if (s.state !== 'ready') {
      this.run = undefined;
      this.off = undefined;
      return false;
    }
    const run = `${s.startedAt ?? ''}|${s.webPort}`;
    if (run === this.run) return false;
    this.run = run;
    this.readyAt = now;
    this.rewrites = 0;
    this.off = undefined;
    return true;
  }

  /** Whether a write may happen now (ready, and this transition's one rewrite not used); uses it. */
  takeRewrite(): boolean {
    if (this.run === undefined || this.rewrites >= 1) return false;
    this.rewrites++;
    return true;
  }

  /**
   * objectscript.conn changed to `"active": false` (read back from the folder's settings).
   * 'undo': write it back once (within 60 s of ready, no rewrite yet this transition);
   * 'leave': leave it (offReason says why); 'ignore': IRIS is not ready (the next transition looks).
   */
  onConnOff(now: number): 'undo' | 'leave' | 'ignore' {
    if (this.run === undefined) return 'ignore';
    if (now - this.readyAt <= undoWindowMs && this.takeRewrite()) {
      this.off = undefined;
      return 'undo';
    }
    this.off = now - this.readyAt > undoWindowMs ? 'late' : 'spent';
    return 'leave';
  }

  /** The conn is on again (someone turned it back on, or Retry): nothing to explain. */
  onConnOn(): void {
    this.off = undefined;
  }

  /** Why a conn that is off stays off, for the tooltip; undefined when nothing was left off. */
  get offReason(): OffReason | undefined {
    return this.off;
  }
}

/** The tooltip's words for a conn left off. */
export function offReasonText(r: OffReason): string {
  const when = r === 'late' ? 'more than 60 s after IRIS was ready' : 'after IRIS Helper had already rewritten it once since IRIS was ready';
  return `objectscript.conn was turned off ("active": false) ${when}, so IRIS Helper leaves it off: ` +
    'the ObjectScript extension\'s check failed (see below), or you turned it off.';
}
