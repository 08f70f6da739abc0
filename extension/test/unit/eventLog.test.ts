import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventLog } from '../../src/core/eventLog';
import { activationReport } from '../../src/core/activation';

test('events are appended as JSON lines; no file, no log; a failing write is swallowed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-ext-events-'));
  try {
    const file = path.join(dir, 'events.jsonl');
    const now = new Date('2026-12-01T10:00:00.000Z');
    eventLog('activate', { activateMs: 1.5 }, file, now);
    eventLog('status', { folder: '/w/p', state: 'ready' }, file, now);
    assert.equal(fs.readFileSync(file, 'utf8'),
      '{"time":"2026-12-01T10:00:00.000Z","event":"activate","activateMs":1.5}\n' +
      '{"time":"2026-12-01T10:00:00.000Z","event":"status","folder":"/w/p","state":"ready"}\n');
    eventLog('status', {}, undefined, now);
    eventLog('status', {}, '', now);
    assert.doesNotThrow(() => eventLog('status', {}, dir, now)); // a directory: the write fails
    assert.deepEqual(fs.readdirSync(dir), ['events.jsonl']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('activation report: the log line and the rounded figures', () => {
  assert.deepEqual(activationReport(100, 102.25, 10, 60.5), {
    line: 'activated in 2.3 ms (bundle evaluation 50.5 ms; VS Code between load and activate 39.5 ms)',
    event: { activateMs: 2.25, bundleEvalMs: 50.5, loadToActivateMs: 39.5, loadStartToActivatedMs: 92.25 },
  });
  // an unbundled build has no load marks
  const r = activationReport(100, 101, NaN, NaN);
  assert.equal(r.line, 'activated in 1.0 ms (bundle evaluation NaN ms; VS Code between load and activate NaN ms)');
  assert.equal(JSON.stringify(r.event), '{"activateMs":1,"bundleEvalMs":null,"loadToActivateMs":null,"loadStartToActivatedMs":null}');
});
