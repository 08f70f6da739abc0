import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { confirmParams, confirmPrompt, confirmRequired, restartAction, restartAnyway, restartOffer, restartWithConfirm, startWithConfirm } from '../../src/core/restart';
import type { RestartParams } from '../../src/core/protocol';
import { scriptedRequest } from './fakes';

/** What vscode-jsonrpc's ResponseError looks like to the caller of sendRequest. */
function responseError(code: number, message: string, data?: unknown): Error {
  return Object.assign(new Error(message), { code, data });
}

const lossMessage = 'restarting IRIS for /w/p recreates container iris_ab12_34500, whose data is not on a volume: the namespaces, users and code loaded into it are lost';
const confirmError = () => responseError(-32020, lossMessage, { container: 'iris_ab12_34500', reason: 'the image changed' });

test('ConfirmRequired (-32020) is recognised with its data; other errors are not', () => {
  assert.deepEqual(confirmRequired(confirmError()), { message: lossMessage, container: 'iris_ab12_34500', reason: 'the image changed' });
  assert.deepEqual(confirmRequired(responseError(-32020, 'm')), { message: 'm', container: '', reason: '' });
  assert.equal(confirmRequired(responseError(-32015, 'start failed')), undefined);
  assert.equal(confirmRequired(new Error('x')), undefined);
  assert.equal(confirmRequired(undefined), undefined);
  assert.equal(confirmRequired('-32020'), undefined);
});

test('the modal says what would be lost', () => {
  assert.deepEqual(confirmPrompt('p', confirmRequired(confirmError())!), {
    message: lossMessage,
    detail: 'Container: iris_ab12_34500\nWhy: the image changed\nRestart anyway recreates the container; its data is gone for good. Cancel leaves IRIS as it is.',
  });
  assert.deepEqual(confirmPrompt('p', { message: '', container: '', reason: '' }), {
    message: 'Restarting IRIS for p would lose data.',
    detail: 'Restart anyway recreates the container; its data is gone for good. Cancel leaves IRIS as it is.',
  });
});

/** A fake iris/restart: answers with the given results in turn, recording the params. */
const fakeHelper = (results: (string | Error)[]) => scriptedRequest<RestartParams, string>(results);

test('restart: no question when nothing is lost', async () => {
  const h = fakeHelper(['ready']);
  const asked: unknown[] = [];
  assert.deepEqual(await restartWithConfirm(h.request, async (p) => { asked.push(p); return restartAnyway; }, 'p'), { kind: 'done', status: 'ready' });
  assert.deepEqual(h.calls, [{}]);
  assert.deepEqual(asked, []);
});

test('restart that would lose data: Restart anyway resends with confirm, Cancel sends nothing more', async () => {
  const yes = fakeHelper([confirmError(), 'ready']);
  const asked: { message: string; detail: string }[] = [];
  assert.deepEqual(await restartWithConfirm(yes.request, async (p) => { asked.push(p); return restartAnyway; }, 'p'), { kind: 'done', status: 'ready' });
  assert.deepEqual(yes.calls, [{}, { confirm: true, container: 'iris_ab12_34500' }]);
  assert.equal(asked.length, 1);
  assert.equal(asked[0].message, lossMessage);

  for (const answer of [undefined, 'Cancel']) {
    const no = fakeHelper([confirmError()]);
    const r = await restartWithConfirm(no.request, async () => answer, 'p');
    assert.deepEqual(r, { kind: 'cancelled', confirm: { message: lossMessage, container: 'iris_ab12_34500', reason: 'the image changed' } }, String(answer));
    assert.deepEqual(no.calls, [{}], String(answer));
  }
});

test('restart: other errors, and an error of the confirmed request, are thrown as they came', async () => {
  const other = responseError(-32010, 'the Docker engine does not answer');
  const h = fakeHelper([other]);
  let asked = 0;
  await assert.rejects(restartWithConfirm(h.request, async () => { asked++; return restartAnyway; }, 'p'), (e: unknown) => e === other);
  assert.equal(asked, 0);

  const late = responseError(-32015, 'IRIS never answered');
  const h2 = fakeHelper([confirmError(), late]);
  await assert.rejects(restartWithConfirm(h2.request, async () => restartAnyway, 'p'), (e: unknown) => e === late);
  assert.deepEqual(h2.calls, [{}, { confirm: true, container: 'iris_ab12_34500' }]);
});

test('confirm params name the container the helper named, when it named one', () => {
  assert.deepEqual(confirmParams(confirmRequired(confirmError())!), { confirm: true, container: 'iris_ab12_34500' });
  assert.deepEqual(confirmParams({ message: 'm', container: '', reason: '' }), { confirm: true });
});

test('start that keeps a container: the restart flow is offered, its modal asks, Restart anyway sends the confirmed restart', async () => {
  const keepError = responseError(-32020, lossMessage, { container: 'iris_ab12_34500', reason: 'host port 34500 is taken by another program' });
  const starts = scriptedRequest<Record<string, never>, string>([keepError]);
  const restarts = fakeHelper(['ready']);
  const asked: { message: string; detail: string }[] = [];
  const r = await startWithConfirm(() => starts.request({}), restarts.request, async (p) => { asked.push(p); return restartAnyway; }, 'p');
  assert.deepEqual(r, { kind: 'done', status: 'ready' });
  assert.deepEqual(restarts.calls, [{ confirm: true, container: 'iris_ab12_34500' }]);
  assert.deepEqual(asked, [{ message: lossMessage, detail: 'Container: iris_ab12_34500\nWhy: host port 34500 is taken by another program\n' +
    'Restart anyway recreates the container; its data is gone for good. Cancel leaves IRIS as it is.' }]);

  const declined = fakeHelper([]);
  const no = await startWithConfirm(() => scriptedRequest<Record<string, never>, string>([keepError]).request({}), declined.request, async () => undefined, 'p');
  assert.equal(no.kind, 'cancelled');
  assert.deepEqual(declined.calls, []);

  const fine = fakeHelper([]);
  assert.deepEqual(await startWithConfirm(async () => 'ready', fine.request, async () => restartAnyway, 'p'), { kind: 'done', status: 'ready' });
  const other = responseError(-32015, 'IRIS never answered');
  await assert.rejects(startWithConfirm(async () => { throw other; }, fine.request, async () => restartAnyway, 'p'), (e: unknown) => e === other);
  assert.deepEqual(fine.calls, []);
});

test('an auto-start that kept a container is shown as a warning with a Restart… action; other messages as they are', () => {
  const kept = 'start IRIS for /w/p: container iris_ab12_34500 was kept: host port 34500 is taken by another program, but its data ' +
    'is not on the durable volume (it was created with durable off), so a start does not remove it; free port 34500 and start ' +
    'again, or recreate it (its data is lost). To recreate it, run "IRIS: Restart" (it asks first).';
  assert.deepEqual(restartOffer(1, kept), { warning: true, action: restartAction });
  assert.equal(restartAction, 'Restart…');
  assert.equal(restartOffer(1, 'start IRIS for /w/p: IRIS never answered'), undefined);
  assert.equal(restartOffer(3, kept), undefined);
});
