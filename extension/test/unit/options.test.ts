import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initializationOptions } from '../../src/core/options';

test('defaults', () => {
  assert.deepEqual(initializationOptions({}, true), {
    autoStart: true, image: '', syncEnv: 'auto', bindAddress: '127.0.0.1', stopOnExit: false, commandProvider: false,
  });
});

test('settings map one to one', () => {
  assert.deepEqual(initializationOptions({
    autoStart: false, image: ' iris-helper/iris-stub:dev ', syncEnv: 'true', bindAddress: '0.0.0.0', stopOnExit: true, helperPath: '/x',
  }, true), {
    autoStart: false, image: 'iris-helper/iris-stub:dev', syncEnv: 'true', bindAddress: '0.0.0.0', stopOnExit: true, commandProvider: false,
  });
});

test('an untrusted workspace never auto-starts', () => {
  assert.equal(initializationOptions({ autoStart: true }, false).autoStart, false);
  assert.equal(initializationOptions({}, false).autoStart, false);
});

test('odd values fall back to defaults', () => {
  assert.equal(initializationOptions({ syncEnv: false }, true).syncEnv, 'false');
  assert.equal(initializationOptions({ syncEnv: 'sometimes' }, true).syncEnv, 'auto');
  assert.equal(initializationOptions({ syncEnv: 'TRUE' }, true).syncEnv, 'true');
  assert.equal(initializationOptions({ bindAddress: '  ' }, true).bindAddress, '127.0.0.1');
});
