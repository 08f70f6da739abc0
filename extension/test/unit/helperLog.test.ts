import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseHelperLogLine } from '../../src/core/helperLog';

// Lines as `iris-helper serve` wrote them in the end-to-end run (log/slog text handler).
const cases: { name: string; line: string; level: string; text: string }[] = [
  {
    name: 'INFO with an unquoted message',
    line: 'time=2026-11-26T22:00:53.243Z level=INFO msg=initialize client="code-server 1.139.1" folder=/tmp/ws/second-project processId=5755',
    level: 'info',
    text: 'initialize client="code-server 1.139.1" folder=/tmp/ws/second-project processId=5755',
  },
  {
    name: 'INFO with a quoted message',
    line: 'time=2026-11-26T22:01:04.411Z level=INFO msg="recreating container: settings changed" project=/tmp/ws/p container=/iris_07bbbe86_34501',
    level: 'info',
    text: 'recreating container: settings changed project=/tmp/ws/p container=/iris_07bbbe86_34501',
  },
  {
    name: 'escaped quotes in the message',
    line: 'time=2026-11-26T22:01:04.411Z level=WARN msg="cannot read \\"x.env\\": denied" path=/p/x.env',
    level: 'warn',
    text: 'cannot read "x.env": denied path=/p/x.env',
  },
  { name: 'ERROR', line: 'time=t level=ERROR msg="engine gone" err="EOF"', level: 'error', text: 'engine gone err="EOF"' },
  { name: 'DEBUG', line: 'time=t level=DEBUG msg=tick', level: 'debug', text: 'tick' },
  { name: 'a level with an offset', line: 'time=t level=WARN+2 msg=odd', level: 'warn', text: 'odd' },
  { name: 'no time field', line: 'level=INFO msg=ready', level: 'info', text: 'ready' },
  { name: 'a Go panic stays an error, unchanged', line: 'panic: runtime error: index out of range [3] with length 3', level: 'error', text: 'panic: runtime error: index out of range [3] with length 3' },
  { name: 'level= only inside the message is not a header', line: 'goroutine 1 [running]: level=INFO', level: 'error', text: 'goroutine 1 [running]: level=INFO' },
];

for (const c of cases) {
  test(`helper log line: ${c.name}`, () => {
    assert.deepEqual(parseHelperLogLine(c.line), { level: c.level, text: c.text });
  });
}
