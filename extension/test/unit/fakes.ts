// Test doubles shared by the unit tests (no tests here).

/** A fake helper request: answers with results in turn (an Error is thrown), recording each call's params. */
export function scriptedRequest<P, R>(results: (R | Error)[]): { calls: P[]; request: (params: P) => Promise<R> } {
  const calls: P[] = [];
  return {
    calls,
    request: async (params: P) => {
      calls.push(params);
      if (results.length === 0) throw new Error('unexpected request');
      const r = results.shift() as R | Error;
      if (r instanceof Error) throw r;
      return r;
    },
  };
}
