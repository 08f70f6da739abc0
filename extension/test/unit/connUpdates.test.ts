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

test('one update per web port; a port of 0 queues nothing', async () => {
  const errors: unknown[] = [];
  const q = new ConnUpdates((e) => errors.push(e));
  const r = recorder();
  q.update(0, r.apply('zero'));
  q.update(34600, r.apply('a'));
  q.update(34600, r.apply('a again'));
  await q.idle();
  assert.deepEqual(r.events, ['start a', 'end a']);
  assert.deepEqual(errors, []);
});

test('updates run one at a time, in order', async () => {
  const q = new ConnUpdates(() => undefined);
  const r = recorder();
  q.update(34600, r.apply('a', { gated: true }));
  q.update(34601, r.apply('b'));
  // let the chain reach the gate
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(r.events, ['start a']);
  r.release();
  await q.idle();
  assert.deepEqual(r.events, ['start a', 'end a', 'start b', 'end b']);
});

test('a failed update is reported and its port tried again by the next status; forget() retries too', async () => {
  const errors: unknown[] = [];
  const q = new ConnUpdates((e) => errors.push(e));
  const r = recorder();
  const boom = new Error('settings.json is not valid JSON');
  q.update(34600, r.apply('a', { fail: boom }));
  await q.idle();
  assert.deepEqual(errors, [boom]);
  q.update(34600, r.apply('a retried'));
  await q.idle();
  q.update(34600, r.apply('a unchanged'));
  await q.idle();
  q.forget();
  q.update(34600, r.apply('a after forget'));
  await q.idle();
  assert.deepEqual(r.events, ['start a', 'end a', 'start a retried', 'end a retried', 'start a after forget', 'end a after forget']);
  assert.deepEqual(errors, [boom]);
});
