// The sequences of issue 13 §2, through the pure rules the extension runs (connWriter.ts does the
// same with the file and the clock): a status from the helper, the ObjectScript extension writing
// `"active": false`, the user turning the conn off; what IRIS Helper writes, and when.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ConnNudge, offReasonText, undoWindowMs } from '../../src/core/connNudge';
import { decideConn, type ObjectScriptConn, type WrittenConn } from '../../src/core/objectscriptConn';
import type { IrisState } from '../../src/core/protocol';

type Step =
  | { t: number; status: IrisState; startedAt?: string; port?: number }
  /** someone (the ObjectScript extension's failed check, the user) writes "active": false */
  | { t: number; off: true };

/** Runs steps; returns what IRIS Helper wrote ("t=…: port P") and the off reason at the end. */
function run(steps: Step[], start: ObjectScriptConn | undefined = undefined) {
  const nudge = new ConnNudge();
  let conn = start;
  let written: WrittenConn | undefined;
  const writes: string[] = [];
  let port = 0;
  let ready = false;
  for (const st of steps) {
    if ('off' in st) {
      conn = { ...conn, active: false };
      if (nudge.onConnOff(st.t) === 'undo') {
        conn = { ...conn, active: true };
        writes.push(`t=${st.t}: undo`);
      }
      continue;
    }
    port = st.port ?? port;
    ready = st.status === 'ready';
    const s = { state: st.status, startedAt: st.startedAt ?? null, webPort: port, host: 'localhost', namespace: 'USER', username: '_SYSTEM' };
    if (!nudge.onStatus(s, st.t)) continue;
    const d = decideConn({ enabled: true, status: s, current: conn, written });
    if (d.action === 'write' && nudge.takeRewrite()) {
      conn = d.conn;
      written = d.written;
      writes.push(`t=${st.t}: port ${d.conn.port}`);
    }
  }
  return { writes, off: ready ? nudge.offReason : undefined, conn };
}

const s = 1000;
const cases: { name: string; start?: ObjectScriptConn; steps: Step[]; writes: string[]; off?: 'late' | 'spent' }[] = [
  {
    name: 'first start: nothing while starting, one write at ready',
    steps: [
      { t: 0, status: 'starting', port: 34600 }, { t: 1 * s, status: 'starting', port: 34600 },
      { t: 9 * s, status: 'ready', startedAt: 'A' }, { t: 10 * s, status: 'ready', startedAt: 'A' },
    ],
    writes: ['t=9000: port 34600'],
  },
  {
    name: 'first start, the ObjectScript extension\'s check failed while IRIS started (false before ready): one write at ready, nothing more',
    start: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' },
    steps: [{ t: 0, status: 'starting', port: 34600 }, { t: 1 * s, off: true }, { t: 9 * s, status: 'ready', startedAt: 'A' }],
    writes: ['t=9000: port 34600'],
  },
  {
    name: 'ready again, conn right and on: nothing written (reload of the editor, IRIS already up)',
    start: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' },
    steps: [{ t: 0, status: 'ready', startedAt: 'A', port: 34600 }],
    writes: [],
  },
  {
    name: 'a check that began before ready writes false 3 s after ready: undone once',
    start: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' },
    steps: [{ t: 0, status: 'starting', port: 34600 }, { t: 9 * s, status: 'ready', startedAt: 'A' }, { t: 12 * s, off: true }],
    writes: ['t=12000: undo'],
  },
  {
    name: 'a second false within 60 s: left alone (one rewrite per transition)',
    start: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' },
    steps: [{ t: 9 * s, status: 'ready', startedAt: 'A', port: 34600 }, { t: 12 * s, off: true }, { t: 20 * s, off: true }],
    writes: ['t=12000: undo'],
    off: 'spent',
  },
  {
    name: 'a write at ready then a false within 60 s (a 401): left alone',
    steps: [{ t: 9 * s, status: 'ready', startedAt: 'A', port: 34600 }, { t: 11 * s, off: true }],
    writes: ['t=9000: port 34600'],
    off: 'spent',
  },
  {
    name: 'a false later than 60 s after ready (the user, or a 401): left alone, the tooltip says why',
    start: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' },
    steps: [{ t: 0, status: 'ready', startedAt: 'A', port: 34600 }, { t: undoWindowMs + 1, off: true }],
    writes: [],
    off: 'late',
  },
  {
    name: 'restart, the check failed while IRIS was down (false): one write at the new ready',
    steps: [
      { t: 0, status: 'ready', startedAt: 'A', port: 34600 }, { t: 100 * s, status: 'stopping' }, { t: 101 * s, off: true },
      { t: 102 * s, status: 'starting' }, { t: 110 * s, status: 'ready', startedAt: 'B' },
    ],
    writes: ['t=0: port 34600', 't=110000: port 34600'],
  },
  {
    name: 'port move: the new port written once at ready',
    steps: [
      { t: 0, status: 'ready', startedAt: 'A', port: 34600 }, { t: 50 * s, status: 'stopped' }, { t: 60 * s, status: 'starting', port: 34602 },
      { t: 70 * s, status: 'ready', startedAt: 'B' }, { t: 71 * s, status: 'ready', startedAt: 'B' },
    ],
    writes: ['t=0: port 34600', 't=70000: port 34602'],
  },
  {
    name: 'IRIS restarted outside the editor (a new StartedAt, the helper goes starting/waiting then ready), conn still on: nothing; its late-check false undone',
    steps: [
      { t: 0, status: 'ready', startedAt: 'A', port: 34600 }, { t: 100 * s, status: 'starting' }, { t: 104 * s, status: 'ready', startedAt: 'B' },
      { t: 110 * s, off: true },
    ],
    writes: ['t=0: port 34600', 't=110000: undo'],
  },
  {
    name: 'a new StartedAt seen while ready (the helper missed the restart) is a transition too',
    steps: [{ t: 0, status: 'ready', startedAt: 'A', port: 34600 }, { t: 100 * s, off: true }, { t: 200 * s, status: 'ready', startedAt: 'B' }],
    writes: ['t=0: port 34600', 't=200000: port 34600'],
  },
  {
    name: 'a false while IRIS is not ready is not undone then; the next ready writes',
    start: { active: true, host: 'localhost', port: 34600, ns: 'USER', username: '_SYSTEM' },
    steps: [{ t: 0, status: 'stopped', port: 34600 }, { t: 1 * s, off: true }, { t: 5 * s, status: 'starting' }, { t: 9 * s, status: 'ready', startedAt: 'A' }],
    writes: ['t=9000: port 34600'],
  },
];

for (const c of cases) {
  test(`nudge: ${c.name}`, () => {
    const r = run(c.steps, c.start);
    assert.deepEqual(r.writes, c.writes);
    assert.equal(r.off, c.off);
  });
}

test('the tooltip\'s reason for a conn left off, whole', () => {
  assert.equal(offReasonText('late'),
    'objectscript.conn was turned off ("active": false) more than 60 s after IRIS was ready, so IRIS Helper leaves it off: ' +
    "the ObjectScript extension's check failed (see below), or you turned it off.");
  assert.equal(offReasonText('spent'),
    'objectscript.conn was turned off ("active": false) after IRIS Helper had already rewritten it once since IRIS was ready, so IRIS Helper leaves it off: ' +
    "the ObjectScript extension's check failed (see below), or you turned it off.");
});

test('takeRewrite: never while not ready, once per transition', () => {
  const n = new ConnNudge();
  assert.equal(n.takeRewrite(), false);
  n.onStatus({ state: 'ready', startedAt: 'A', webPort: 1 }, 0);
  assert.equal(n.takeRewrite(), true);
  assert.equal(n.takeRewrite(), false);
  assert.equal(n.onConnOff(1), 'leave');
  n.onStatus({ state: 'starting', startedAt: 'A', webPort: 1 }, 2);
  assert.equal(n.takeRewrite(), false);
  assert.equal(n.onConnOff(3), 'ignore');
});
