import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayUrl, helpText, parseBatchSize, parseChoice, parseCommandArgs, parseNumber, resolveConnection, UsageError, type OptionTable } from './args.js';

const OPTIONS: OptionTable = {
  vhost: { type: 'string', description: 'vhost' },
  queue: { type: 'string', multiple: true, description: 'queue' },
  watch: { type: 'boolean', description: 'watch' },
};

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a UsageError');
}

test('parses string, repeatable and boolean options plus the common ones', () => {
  const { values, positionals } = parseCommandArgs(['--vhost', '/a b', '--queue', 'q1', '--queue=q2', '--watch', '--json', '--url', 'http://h:1'], OPTIONS);
  assert.equal(values.vhost, '/a b');
  assert.deepEqual(values.queue, ['q1', 'q2']);
  assert.equal(values.watch, true);
  assert.equal(values.json, true);
  assert.equal(values.url, 'http://h:1');
  assert.deepEqual(positionals, []);
});

test('usage errors name the flag or the argument', () => {
  assert.match(
    usageMessage(() => parseCommandArgs(['--bogus'], OPTIONS)),
    /'--bogus'/,
  );
  assert.match(
    usageMessage(() => parseCommandArgs(['--vhost'], OPTIONS)),
    /'--vhost <value>' argument missing/,
  );
  assert.match(
    usageMessage(() => parseCommandArgs(['--vhost', '--watch'], OPTIONS)),
    /'--vhost' argument is ambiguous/,
  );
  assert.match(
    usageMessage(() => parseCommandArgs(['--watch=yes'], OPTIONS)),
    /'--watch' does not take an argument/,
  );
  assert.match(
    usageMessage(() => parseCommandArgs(['--vhost='], OPTIONS)),
    /--vhost needs a non-empty value/,
  );
  assert.match(
    usageMessage(() => parseCommandArgs(['extra'], OPTIONS)),
    /Unexpected argument 'extra': this command takes no arguments/,
  );
  assert.match(
    usageMessage(() => parseCommandArgs([], {}, { names: ['ID'], required: 1 })),
    /missing ID/,
  );
  assert.match(
    usageMessage(() => parseCommandArgs(['a', 'b'], {}, { names: ['ID'], required: 0 })),
    /unexpected argument 'b'/,
  );
  assert.deepEqual(parseCommandArgs(['abc'], {}, { names: ['ID'], required: 1 }).positionals, ['abc']);
});

test('--help wins over missing positionals', () => {
  assert.equal(parseCommandArgs(['--help'], {}, { names: ['ID'], required: 1 }).values.help, true);
  assert.equal(parseCommandArgs(['-h'], {}).values.help, true);
});

test('typed values: batch size, numbers in range, choices', () => {
  assert.equal(parseBatchSize('all'), 'all');
  assert.equal(parseBatchSize('0'), 0);
  assert.equal(parseBatchSize('25'), 25);
  for (const bad of ['-1', '1.5', 'ten', '', '99999999999999999999'])
    assert.match(
      usageMessage(() => parseBatchSize(bad)),
      /--batch-size must be an integer >= 0 or "all"/,
    );
  assert.equal(parseNumber('tolerance', '12.5', 0, 100), 12.5);
  assert.equal(parseNumber('tolerance', '0', 0, 100), 0);
  for (const bad of ['101', '-0.1', 'abc', '1e2', 'NaN', ''])
    assert.match(
      usageMessage(() => parseNumber('tolerance', bad, 0, 100)),
      /--tolerance must be a number between 0 and 100/,
    );
  assert.equal(parseChoice('batch-order', 'largest_first', ['smallest_first', 'largest_first']), 'largest_first');
  assert.match(
    usageMessage(() => parseChoice('batch-order', 'random', ['smallest_first', 'largest_first'])),
    /--batch-order must be one of smallest_first, largest_first, not 'random'/,
  );
});

test('connection: flags over environment over the default; credentials required and never in the URL', () => {
  const env = { QMIG_URL: 'http://env-host:1234/base/', QMIG_CLI_USER: 'env-user', QMIG_CLI_PASSWORD: 'env-pass' };
  const fromEnv = resolveConnection({}, env);
  assert.equal(fromEnv.url.toString(), 'http://env-host:1234/base/');
  assert.deepEqual([fromEnv.user, fromEnv.password], ['env-user', 'env-pass']);
  const fromFlags = resolveConnection({ url: 'https://flag-host', user: 'u', password: 'p' }, env);
  assert.equal(fromFlags.url.origin, 'https://flag-host');
  assert.deepEqual([fromFlags.user, fromFlags.password], ['u', 'p']);
  assert.equal(resolveConnection({ user: 'u', password: 'p' }, {}).url.toString(), 'http://127.0.0.1:15680/');
  // The sidecar's own service account variables are not the caller's.
  assert.match(
    usageMessage(() => resolveConnection({}, { QMIG_USER: 'svc', QMIG_PASSWORD: 'svc' })),
    /no user: give --user or set QMIG_CLI_USER/,
  );
  assert.match(
    usageMessage(() => resolveConnection({ user: 'u' }, {})),
    /no password/,
  );
  assert.match(
    usageMessage(() => resolveConnection({ url: 'ftp://x', user: 'u', password: 'p' }, {})),
    /--url must be an http/,
  );
  assert.match(
    usageMessage(() => resolveConnection({ url: 'not a url', user: 'u', password: 'p' }, {})),
    /--url is not a URL/,
  );
  assert.match(
    usageMessage(() => resolveConnection({}, { QMIG_URL: '::', QMIG_CLI_USER: 'u', QMIG_CLI_PASSWORD: 'p' })),
    /QMIG_URL is not a URL/,
  );
  const withCreds = usageMessage(() => resolveConnection({ url: 'http://bob:Hunter2Secret@h', user: 'u', password: 'p' }, {}));
  assert.match(withCreds, /must not contain credentials/);
  assert.ok(!withCreds.includes('Hunter2Secret'));
  assert.equal(displayUrl(new URL('http://h:1/base/?x=1')), 'http://h:1/base');
});

test('help text lists the command options and the common ones', () => {
  const text = helpText('demo', '[--vhost V]', 'A demo.', OPTIONS);
  assert.match(text, /^usage: qmig demo \[--vhost V\]/);
  assert.match(text, /--queue VALUE …\s+queue/);
  assert.match(text, /--url URL\s+sidecar URL \(env QMIG_URL/);
  assert.match(text, /-h, --help\s+show this help/);
  assert.match(text, /exit codes: 0 .* 2 usage error, 3 cannot reach or authenticate/);
});
