import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { deleteData, purgedMessage, purgeParams, purgePrompt } from '../../src/core/purge';

test('the modal says what Delete Data removes, by kind', () => {
  assert.deepEqual(purgePrompt('shop', 'compose'), {
    message: 'Stop IRIS for shop and delete its data?',
    detail: "This removes its compose project's containers and every volume of the compose project (docker compose down -v): the databases and settings kept there are gone for good. The project's files are not touched. Cancel leaves IRIS as it is.",
  });
  assert.deepEqual(purgePrompt('orders', 'image').detail,
    "This removes its container and its durable volume: the databases and settings kept there are gone for good. The project's files are not touched. Cancel leaves IRIS as it is.");
  assert.equal(deleteData, 'Delete Data');
  assert.deepEqual(purgeParams, { remove: true, purge: true });
});

test('the answer names the volumes iris/stop deleted', () => {
  assert.equal(purgedMessage('shop', ['shop_data', 'shop_logs']), 'IRIS for shop is stopped and removed; deleted volumes shop_data, shop_logs.');
  assert.equal(purgedMessage('orders', ['iris_5f3a9c1e_durable']), 'IRIS for orders is stopped and removed; deleted volume iris_5f3a9c1e_durable.');
  assert.equal(purgedMessage('x', []), 'IRIS for x is stopped and removed; it had no volume to delete.');
  assert.equal(purgedMessage('x', undefined), 'IRIS for x is stopped and removed; it had no volume to delete.');
});
