import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ConnUpdates } from '../../src/core/connUpdates';

/** An apply that records its start and end, and waits for release() when gated. */
function recorder() {
  const events: string[] = [];
  const gates: (() => void)[] = [];
  const apply = (name: string, opts: { gated?: boolean; fail?: Error } = {}) => async () => {
    events.push(`start ${name}`);
    if (opts.gated) await new Promise<void>((r) => gates.push(r));
    events.push(`end ${name}`);
    if (opts.fail) throw opts.fail;
  };
  return { events, apply, release: () => gates.shift()?.() };
}

test('updates run one at a time, in order', async () => {
  const q = new ConnUpdates(() => undefined);
  const r = recorder();
  q.queue(r.apply('a', { gated: true }));
  q.queue(r.apply('b'));
  // let the chain reach the gate
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(r.events, ['start a']);
  r.release();
  await q.idle();
  assert.deepEqual(r.events, ['start a', 'end a', 'start b', 'end b']);
});

test('a failed update is reported and the next one still runs', async () => {
  const errors: unknown[] = [];
  const q = new ConnUpdates((e) => errors.push(e));
  const r = recorder();
  const boom = new Error('settings.json is not valid JSON');
  q.queue(r.apply('a', { fail: boom }));
  q.queue(r.apply('b'));
  await q.idle();
  assert.deepEqual(errors, [boom]);
  assert.deepEqual(r.events, ['start a', 'end a', 'start b', 'end b']);
});
