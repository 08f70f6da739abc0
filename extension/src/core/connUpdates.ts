// The objectscript.conn updates of one folder, one at a time: a status with a web port queues an
// update unless that port is the last one queued; a failed update forgets the port, so that the
// next status tries again; forget() (the setting changed) makes the next status try again too.
// No `vscode` import.

export class ConnUpdates {
  private chain: Promise<void> = Promise.resolve();
  private last?: number;

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Queues apply after the updates before it, unless webPort is 0 or the port queued last. */
  update(webPort: number, apply: () => Promise<void>): void {
    if (!webPort || webPort === this.last) return;
    this.last = webPort;
    this.chain = this.chain.then(apply).catch((err) => {
      this.last = undefined;
      this.onError(err);
    });
  }

  /** Queues apply after the updates before it, whatever the port. */
  queue(apply: () => Promise<void>): void {
    this.chain = this.chain.then(apply).catch((err) => {
      this.last = undefined;
      this.onError(err);
    });
  }

  /** The next update runs even for the port queued last. */
  forget(): void {
    this.last = undefined;
  }

  /** Resolves when every queued update has ended. */
  idle(): Promise<void> {
    return this.chain;
  }
}
