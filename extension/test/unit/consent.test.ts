import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { allowAndStart, allowParams, consentOffer, consentPrompt, consentRemedy, consentRequired, startWithConsent } from '../../src/core/consent';
import type { StartParams } from '../../src/core/protocol';

const items = [
  { id: 'bind:iris:/home/ada/iris.key', service: 'iris', text: 'service iris mounts /home/ada/iris.key (outside the project)' },
  { id: 'privileged:tools:', service: 'tools', text: 'service tools runs privileged' },
];
const refusal = { code: -32022, message: 'the compose project of /p does what…', data: { items, status: {} } };

test('a ConsentRequired answer is read with its items; other errors are not', () => {
  assert.deepEqual(consentRequired(refusal), { message: 'the compose project of /p does what…', items });
  assert.equal(consentRequired({ code: -32020, message: 'x', data: {} }), undefined);
  assert.equal(consentRequired(new Error('boom')), undefined);
  assert.deepEqual(consentRequired({ code: -32022, message: 'm', data: { items: [{ id: 1 }, items[1]] } }), { message: 'm', items: [items[1]] });
});

test('the modal lists every item, then what allowing means', () => {
  assert.deepEqual(consentPrompt('orders', { message: '', items }), {
    message: "The compose project of orders does what a repository's files may not do on their own.",
    detail: '• service iris mounts /home/ada/iris.key (outside the project)\n• service tools runs privileged\n\n' +
      'Allow and Start allows exactly these for this project (asked again if the files add more). Cancel starts nothing.',
  });
});

test('Allow and Start resends the start with exactly the ids shown, beside its own params', async () => {
  const sent: StartParams[] = [];
  const start = async (p: StartParams) => {
    sent.push(p);
    if (!p.allow) throw refusal;
    return 'ready';
  };
  const r = await startWithConsent(start, { build: true }, async () => allowAndStart, 'orders');
  assert.deepEqual(r, { kind: 'done', status: 'ready' });
  assert.deepEqual(sent, [{ build: true }, { build: true, allow: ['bind:iris:/home/ada/iris.key', 'privileged:tools:'] }]);
  assert.deepEqual(allowParams({}, { message: '', items: [items[0]] }), { allow: ['bind:iris:/home/ada/iris.key'] });
});

test('Cancel sends nothing more; another error is thrown as it came', async () => {
  const sent: StartParams[] = [];
  const r = await startWithConsent(async (p: StartParams) => { sent.push(p); throw refusal; }, {}, async () => undefined, 'orders');
  assert.equal(r.kind, 'declined');
  assert.equal(sent.length, 1);
  await assert.rejects(startWithConsent(async () => { throw new Error('engine down'); }, {}, async () => allowAndStart, 'o'), /engine down/);
});

test("the auto-start's refusal is offered with an action that runs IRIS: Start", () => {
  assert.deepEqual(consentOffer(`the compose project of /p does what…:\n  - x. ${consentRemedy}`), { action: 'Start…' });
  assert.equal(consentOffer('port 1972 is in use'), undefined);
});
