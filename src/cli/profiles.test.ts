import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveConnection, UsageError } from './args.js';
import { pickMigration } from './handles.js';
import { parseIni } from './profiles.js';

test('INI profiles: sections, comments, rabbitmqadmin key names, quoted values; errors name file and line', () => {
  const sections = parseIni(
    '; comment\n[default]\nurl = http://a:15680\nusername: ops\n\n# other\n[prod]\npassword = "p w"\nca_certificate_bundle_path = /ca.pem\ninsecure = true\n',
    'f.conf',
  );
  assert.deepEqual(Object.fromEntries(sections), {
    default: { url: 'http://a:15680', user: 'ops' },
    prod: { password: 'p w', ca_file: '/ca.pem', insecure: 'true' },
  });
  assert.throws(
    () => parseIni('url = x\n', 'f.conf'),
    (e: unknown) => e instanceof UsageError && /f\.conf:1: "url" is outside of any \[section\]/.test(e.message),
  );
  assert.throws(() => parseIni('[a]\nnonsense\n', 'f.conf'), /f\.conf:2: expected/);
});

test('connection precedence: flag > --node profile > environment > [default] profile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qmig-prof-'));
  try {
    const file = join(dir, 'c.conf');
    writeFileSync(
      file,
      '[default]\nurl = http://default:1\nuser = d\npassword = dp\n[p]\nurl = http://profile:2\nuser = pu\npassword = pp\ntimeout = 2.5\ninsecure = yes\n',
    );
    const env = { QMIG_URL: 'http://env:3', QMIG_CLI_USER: 'eu', QMIG_CLI_PASSWORD: 'ep' };
    const picked = resolveConnection({ config: file, node: 'p' }, env);
    assert.equal(picked.url.host, 'profile:2');
    assert.equal(picked.user, 'pu');
    assert.equal(picked.timeoutMs, 2500);
    assert.equal(picked.tls?.insecure, true);
    assert.equal(resolveConnection({ config: file }, env).url.host, 'env:3', 'the environment beats [default]');
    assert.equal(resolveConnection({ config: file }, {}).url.host, 'default:1');
    assert.equal(resolveConnection({ config: file, node: 'p', url: 'http://flag:4' }, env).url.host, 'flag:4');
    assert.throws(() => resolveConnection({ config: join(dir, 'missing.conf') }, env), /cannot read the configuration file .*missing\.conf: ENOENT/);
    // The default file may be missing.
    assert.equal(resolveConnection({}, { ...env, HOME: dir }).url.host, 'env:3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration handles: latest, exact id or display id, unique prefix, ambiguous prefix, unknown passed on', () => {
  const list = [
    { id: 'g2gCbQAAAAFh', display_id: 'orders (2026-12-02 01:00:00) on rabbit@a' },
    { id: 'g2gCbQAAAAFz', display_id: 'orders (2026-12-01 01:00:00) on rabbit@a' },
    { id: 'aXYz', display_id: 'billing (2026-11-01 01:00:00) on rabbit@b' },
  ] as Parameters<typeof pickMigration>[0];
  assert.equal(pickMigration(list, 'latest'), 'g2gCbQAAAAFh');
  assert.equal(pickMigration(list, 'aX'), 'aXYz');
  assert.equal(pickMigration(list, 'billing'), 'aXYz');
  assert.equal(pickMigration(list, list[1].display_id), 'g2gCbQAAAAFz');
  assert.throws(() => pickMigration(list, 'g2gCb'), /'g2gCb' matches 2 migrations/);
  assert.equal(pickMigration(list, 'zzz'), 'zzz');
  assert.throws(() => pickMigration([], 'latest'), /there is no migration yet/);
});
