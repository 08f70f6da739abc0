import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { channelLevel, errorText, MessageGate, severity } from '../../src/core/messages';

test('LSP message types map as vscode-languageclient maps them', () => {
  assert.deepEqual([1, 2, 3, 4, 0, 9].map(severity), ['error', 'warning', 'info', 'info', 'info', 'info']);
});

test('a warning is shown once per folder and window (helper restarts included); errors and information every time', () => {
  const g = new MessageGate();
  const refused = '/w/p/.env leads to /home/me/.profile, outside the project /w/p: .env sync is off for this project (allow it with irisHelper.allowEnvFileOutsideProject)';
  const exposed = 'IRIS for /w/p is reachable from the network on 0.0.0.0:34500 and 0.0.0.0:34600';
  const seen = [
    g.decide('file:///w/p', 2, refused),
    g.decide('file:///w/p', 2, exposed),
    // the helper restarted (a setting changed) and says it again
    g.decide('file:///w/p', 2, refused),
    g.decide('file:///w/p', 2, exposed),
    // another folder's helper with the same text
    g.decide('file:///w/q', 2, refused),
    g.decide('file:///w/p', 1, 'the Docker engine does not answer'),
    g.decide('file:///w/p', 1, 'the Docker engine does not answer'),
    g.decide('file:///w/p', 3, 'IRIS is ready'),
    g.decide('file:///w/p', 3, 'IRIS is ready'),
  ];
  assert.deepEqual(seen, ['warning', 'warning', undefined, undefined, 'warning', 'error', 'error', 'info', 'info']);
});

test('severities go to the output channel at their own level; an error is told by its message', () => {
  assert.deepEqual((['error', 'warning', 'info'] as const).map(channelLevel), ['error', 'warn', 'info']);
  assert.equal(errorText(new Error('the Docker engine does not answer')), 'the Docker engine does not answer');
  assert.equal(errorText('plain'), 'plain');
  assert.equal(errorText(undefined), 'undefined');
});
