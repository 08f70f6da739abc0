import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { releaseFailedMessage, releaseQuestion, releaseWithForce, releasedMessage, stopAndReleaseButton } from '../../src/core/release';
import type { ReleaseParams } from '../../src/core/protocol';
import { scriptedRequest } from './fakes';

const running = Object.assign(new Error('IRIS for /w/p is running (container iris_ab12_34500)'), { code: -32019 });

test('the release modal names the ports when the folder has them', () => {
  assert.equal(releaseQuestion('p', { superserverPort: 34500, webPort: 34600 }),
    'Release the ports 34500/34600 of p? Its IRIS container is removed and the ports may go to another project.');
  for (const s of [undefined, { superserverPort: 0, webPort: 0 }]) {
    assert.equal(releaseQuestion('p', s), 'Release the ports of p? Its IRIS container is removed and the ports may go to another project.', JSON.stringify(s));
  }
  assert.equal(releasedMessage('p', { superserverPort: 34500, webPort: 34600 }), 'IRIS: released ports 34500/34600 of p.');
  assert.equal(releaseFailedMessage('p', running), 'IRIS: release failed for p: IRIS for /w/p is running (container iris_ab12_34500)');
  assert.equal(releaseFailedMessage('p', 'no helper'), 'IRIS: release failed for p: no helper');
});

/** A fake release: fails (an Error) or succeeds (undefined) in turn, recording the params. */
function fakeRun(results: (Error | undefined)[]) {
  const f = scriptedRequest<ReleaseParams, void>(results);
  return { calls: f.calls, run: f.request };
}

test('release: no question when it works', async () => {
  const f = fakeRun([undefined]);
  const offered: string[] = [];
  assert.deepEqual(await releaseWithForce(f.run, async (m) => { offered.push(m); return stopAndReleaseButton; }, 'p'), { kind: 'released', forced: false });
  assert.deepEqual(f.calls, [{}]);
  assert.deepEqual(offered, []);
});

test('release refused while IRIS runs: "Stop and Release" resends with force; dismissing sends nothing more', async () => {
  const yes = fakeRun([running, undefined]);
  const offered: string[] = [];
  assert.deepEqual(await releaseWithForce(yes.run, async (m) => { offered.push(m); return stopAndReleaseButton; }, 'p'), { kind: 'released', forced: true });
  assert.deepEqual(yes.calls, [{}, { force: true }]);
  assert.deepEqual(offered, ['IRIS: release failed for p: IRIS for /w/p is running (container iris_ab12_34500)']);

  for (const answer of [undefined, 'Cancel']) {
    const no = fakeRun([running]);
    assert.deepEqual(await releaseWithForce(no.run, async () => answer, 'p'), { kind: 'declined' }, String(answer));
    assert.deepEqual(no.calls, [{}], String(answer));
  }
});

test('a forced release that fails too is shown without another offer', async () => {
  const f = fakeRun([running, new Error('the Docker engine does not answer')]);
  let offers = 0;
  assert.deepEqual(await releaseWithForce(f.run, async () => { offers++; return stopAndReleaseButton; }, 'p'),
    { kind: 'failed', message: 'IRIS: release failed for p: the Docker engine does not answer' });
  assert.equal(offers, 1);
  assert.deepEqual(f.calls, [{}, { force: true }]);
});
