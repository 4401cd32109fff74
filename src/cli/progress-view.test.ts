import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlainProgressView, progressViewFor, renderFrame, TtyProgressView, type ProgressFrame } from './progress-view.js';

function frame(rows: ProgressFrame['rows'], summary = 'in_progress: 1/3 queues done (33%)'): ProgressFrame {
  return { title: 'migration / (2025-12-21 10:30:00) on rabbit@node1', summary, rows };
}

const ROWS: ProgressFrame['rows'] = [
  { name: 'orders', status: 'completed', done: 1000, total: 1000 },
  { name: 'a-very-long-queue-name-that-will-not-fit-in-a-narrow-terminal', status: 'in_progress', done: 250, total: 1000 },
  { name: 'empty', status: 'pending', done: 0, total: 0 },
];

class FakeTerminal {
  isTTY = true;
  written = '';
  constructor(
    public columns: number,
    public rows = 24,
  ) {}
  write(chunk: string) {
    this.written += chunk;
    return true;
  }
}

test('renderFrame: one line per queue with a bar proportional to progress, each line within the width', () => {
  for (const width of [60, 80, 132]) {
    const lines = renderFrame(frame(ROWS), width);
    assert.equal(lines.length, 2 + ROWS.length);
    for (const l of lines) assert.ok(l.length <= width, `width ${width}: '${l}' is ${l.length} long`);
    const [done, half, empty] = lines.slice(2);
    const barOf = (l: string) => /\[(#*)(\.*)\]/.exec(l);
    const full = barOf(done)!;
    assert.equal(full[2], '', 'a completed queue has a full bar');
    const quarter = barOf(half)!;
    const barWidth = quarter[1].length + quarter[2].length;
    assert.equal(quarter[1].length, Math.floor(barWidth / 4));
    assert.match(done, /100%\s+1000\/1000\s+completed$/);
    assert.match(half, / 25%\s+250\/1000\s+in_progress$/);
    assert.match(empty, /\[\.+\]\s+0%\s+0\/0\s+pending$/, 'an empty queue is not done before it completed');
    assert.match(renderFrame(frame([{ ...ROWS[2], status: 'completed' }]), width)[2], /\[#+\]\s+100%\s+0\/0\s+completed$/);
  }
  const narrow = renderFrame(frame(ROWS), 40);
  for (const l of narrow) assert.ok(l.length <= 40, `'${l}' is ${l.length} long`);
  assert.ok(
    narrow.slice(2).every((l) => !l.includes('[')),
    'no room for bars at 40 columns with these counts',
  );
  assert.match(narrow[3], /^a-very-\S*…\s+25%\s+250\/1000\s+in_progress$/, 'long names are cut with an ellipsis, the numbers are not');
});

test('renderFrame: a terminal too narrow for bars drops them; errors follow the row and are cut at the width', () => {
  const lines = renderFrame(frame([{ name: 'q', status: 'failed', done: 5, total: 10, error: 'shovel did not start: ' + 'x'.repeat(200) }]), 28);
  for (const l of lines) assert.ok(l.length <= 28);
  assert.doesNotMatch(lines[2], /\[/);
  assert.equal(lines[2], 'q   50%   5/10  failed  sho…');
  const wide = renderFrame(frame([{ name: 'q', status: 'failed', done: 5, total: 10, error: 'shovel did not start' }]), 80);
  assert.match(wide[2], /^q  \[#+\.+\]   50%   5\/10  failed  shovel did not start$/);
});

test('renderFrame: when the terminal is short, running and failed queues are shown first and the rest summarised', () => {
  const many = Array.from({ length: 50 }, (_, i) => ({
    name: `q${i}`,
    status: i === 42 ? 'in_progress' : i === 7 ? 'failed' : 'completed',
    done: 1,
    total: 1,
  }));
  const lines = renderFrame(frame(many), 80, 10);
  assert.equal(lines.length, 10);
  const shown = lines.slice(2, 9).map((l) => l.split(' ')[0]);
  assert.deepEqual(shown, ['q0', 'q1', 'q2', 'q3', 'q4', 'q7', 'q42'], 'the running and the failed queue are among those shown, in their order');
  assert.equal(lines[9], '… 43 more queue(s): 43 completed');
});

test('renderFrame: control characters in broker names cannot move the cursor', () => {
  const lines = renderFrame(frame([{ name: 'evil\x1b[2Jq', status: 'pending', done: 0, total: 1 }]), 80);
  assert.ok(lines.every((l) => !l.includes('\x1b')));
});

test('TtyProgressView redraws in place: cursor up over the previous frame, clear, new frame', () => {
  const term = new FakeTerminal(60);
  const view = progressViewFor(term);
  assert.ok(view instanceof TtyProgressView);
  view.update(frame(ROWS));
  const first = term.written;
  assert.ok(!first.includes('\x1b['), 'the first frame is drawn without moving the cursor');
  assert.equal(first.split('\n').length - 1, 5);
  for (const l of first.trimEnd().split('\n')) assert.ok(l.length <= 59, 'one column less than the terminal');
  term.written = '';
  view.update(frame(ROWS.slice(0, 2), 'in_progress: 2/3 queues done (66%)'));
  assert.ok(term.written.startsWith('\x1b[5A\r\x1b[J'), JSON.stringify(term.written.slice(0, 12)));
  assert.match(term.written, /2\/3 queues done/);
  term.written = '';
  view.update(frame([]));
  assert.ok(term.written.startsWith('\x1b[4A\r\x1b[J'));
});

test('PlainProgressView writes lines only for what changed, no ANSI', () => {
  const out: { isTTY: boolean; written: string; write(c: string): boolean } = {
    isTTY: false,
    written: '',
    write(c: string) {
      this.written += c;
      return true;
    },
  };
  const view = progressViewFor(out);
  assert.ok(view instanceof PlainProgressView);
  view.update(frame(ROWS));
  const lines = out.written.trimEnd().split('\n');
  assert.deepEqual(lines, [
    'migration / (2025-12-21 10:30:00) on rabbit@node1',
    '  orders: completed 1000/1000 (100%)',
    '  a-very-long-queue-name-that-will-not-fit-in-a-narrow-terminal: in_progress 250/1000 (25%)',
    '  empty: pending 0/0 (0%)',
    'in_progress: 1/3 queues done (33%)',
  ]);
  out.written = '';
  view.update(frame(ROWS));
  assert.equal(out.written, '', 'nothing changed, nothing written');
  view.update(frame([ROWS[0], { ...ROWS[1], done: 500 }, ROWS[2]]));
  assert.equal(out.written, '  a-very-long-queue-name-that-will-not-fit-in-a-narrow-terminal: in_progress 500/1000 (50%)\n');
  assert.ok(!(out.written as string).includes('\x1b'));
});
