import assert from 'node:assert/strict';
import { test } from 'node:test';
import { table } from './output.js';
import { choosePresentation, colorStatus, formatTime, setPresentation } from './presentation.js';

const base = { noHeaders: false, nonInteractive: false, isTTY: false, env: {} };

test('colour: on a terminal only (auto), never with NO_COLOR, --non-interactive or TERM=dumb; always on request', () => {
  assert.equal(choosePresentation({ ...base, isTTY: true }).color, true);
  assert.equal(choosePresentation({ ...base }).color, false);
  assert.equal(choosePresentation({ ...base, isTTY: true, env: { NO_COLOR: '1' } }).color, false);
  assert.equal(choosePresentation({ ...base, isTTY: true, nonInteractive: true }).color, false);
  assert.equal(choosePresentation({ ...base, isTTY: true, env: { TERM: 'dumb' } }).color, false);
  assert.equal(choosePresentation({ ...base, color: 'always' }).color, true);
  assert.throws(() => choosePresentation({ ...base, color: 'sometimes' }), /--color must be auto, always or never/);
});

test('table styles and headers; aligned columns ignore colour sequences', () => {
  const rows = [
    ['a', 'completed', 'x'],
    ['bbb', 'failed', null],
  ];
  setPresentation(choosePresentation({ ...base, tableStyle: 'tsv', noHeaders: true }));
  assert.equal(table(['N', 'S', 'E'], rows), 'a\tcompleted\tx\nbbb\tfailed\t-');
  setPresentation(choosePresentation({ ...base, tableStyle: 'markdown' }));
  assert.equal(table(['N', 'S'], [['a|b', 'ok']]), '| N | S |\n| --- | --- |\n| a\\|b | ok |');
  setPresentation(choosePresentation({ ...base, nonInteractive: true }));
  assert.equal(table(['N', 'S'], [['a', 'b c']]), 'N S\na b c');
  setPresentation(choosePresentation({ ...base, color: 'always' }));
  assert.equal(
    table(
      ['N', 'STATUS', 'E'],
      [
        ['a', colorStatus('completed'), 'x'],
        ['b', colorStatus('zzz'), 'y'],
      ],
    ),
    'N  STATUS     E\na  \x1b[32mcompleted\x1b[0m  x\nb  zzz        y',
  );
  setPresentation(choosePresentation(base));
});

test('time zones: as the API gives them by default; UTC, IANA names; bad zones refused', () => {
  setPresentation(choosePresentation(base));
  assert.equal(formatTime('2026-12-02 01:02:03'), '2026-12-02 01:02:03');
  setPresentation(choosePresentation({ ...base, timeZone: 'America/New_York' }));
  assert.equal(formatTime('2026-12-02T01:02:03Z'), '2026-12-01 20:02:03 EST');
  assert.equal(formatTime(null), null);
  setPresentation(choosePresentation({ ...base, timeZone: 'UTC' }));
  assert.equal(formatTime('2026-06-01 12:00:00'), '2026-06-01 12:00:00 UTC');
  assert.throws(() => choosePresentation({ ...base, timeZone: 'Nowhere/Land' }), /--time-zone must be/);
  setPresentation(choosePresentation(base));
});
