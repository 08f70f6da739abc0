// The objectscript.conn updates of one folder, one at a time, in order: a failed one is reported
// and the next still runs. When an update is due is core/connNudge's. No `vscode` import.

export class ConnUpdates {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Queues apply after the updates before it. */
  queue(apply: () => Promise<void>): void {
    this.chain = this.chain.then(apply).catch((err) => this.onError(err));
  }

  /** Resolves when every queued update has ended. */
  idle(): Promise<void> {
    return this.chain;
  }
}
