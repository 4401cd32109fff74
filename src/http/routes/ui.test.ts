import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readStaticFile, staticDir } from '../ui/static-files.js';
import { EXTENSION_SCRIPT, withQmigExtension } from './ui.js';

test("qmig's script is appended once to the broker's extensions", () => {
  const broker = [{ javascript: 'dispatcher.js' }, { javascript: 'shovel.js' }];
  assert.deepEqual(withQmigExtension(broker), [...broker, { javascript: EXTENSION_SCRIPT }]);
  assert.deepEqual(withQmigExtension([...broker, { javascript: EXTENSION_SCRIPT }]), [...broker, { javascript: EXTENSION_SCRIPT }]);
});

test('the page and its templates are found, and nothing outside them is served', async () => {
  assert.ok(staticDir().endsWith('static'));
  assert.match((await readStaticFile('queue-migration.js')).toString(), /dispatcher_add/);
  assert.match((await readStaticFile('tmpl/queue-migration.ejs')).toString(), /qmig_page_ready\('main'\)/);
  await assert.rejects(readStaticFile('../static-files.ts'));
});
