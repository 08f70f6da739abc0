// How long activation took, as the extension logs it and reports it to the event log. The times
// are performance.now() values: t0/t1 around activate(), loadStart/loadEnd the bundle's first and
// last statements (esbuild.mjs banner/footer; NaN in an unbundled build). No `vscode` import.

export interface ActivationReport {
  /** The line for the extension's output channel. */
  line: string;
  /** The event log's fields (milliseconds, two decimals). */
  event: { activateMs: number; bundleEvalMs: number; loadToActivateMs: number; loadStartToActivatedMs: number };
}

export function activationReport(t0: number, t1: number, loadStart: number, loadEnd: number): ActivationReport {
  const round = (n: number) => Math.round(n * 100) / 100;
  const activateMs = t1 - t0;
  // bundle evaluation (our top-level code), then VS Code's own work before calling activate
  // (it creates the extension context while the module loads)
  const evalMs = loadEnd - loadStart;
  const waitMs = t0 - loadEnd;
  return {
    line: `activated in ${activateMs.toFixed(1)} ms (bundle evaluation ${evalMs.toFixed(1)} ms; VS Code between load and activate ${waitMs.toFixed(1)} ms)`,
    event: { activateMs: round(activateMs), bundleEvalMs: round(evalMs), loadToActivateMs: round(waitMs), loadStartToActivatedMs: round(t1 - loadStart) },
  };
}
