import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redact } from './logging.js';

test('secrets and URL credentials are masked', () => {
  const out = redact({
    password: 'hunter2',
    nested: { Authorization: 'Basic Z3Vlc3Q6Z3Vlc3Q=', uri: 'amqp://app:s3cret@10.0.0.1:5672/%2F', ok: 'visible' },
    list: ['https://u:p@h/x'],
  }) as Record<string, any>;
  assert.equal(out.password, '***');
  assert.equal(out.nested.Authorization, '***');
  assert.equal(out.nested.uri, 'amqp://***@10.0.0.1:5672/%2F');
  assert.equal(out.nested.ok, 'visible');
  assert.deepEqual(out.list, ['https://***@h/x']);
  assert.ok(!JSON.stringify(out).includes('s3cret'));
});

test('the pretty format: one readable line, same redaction as JSON', async () => {
  const { default: winston } = await import('winston');
  const { Writable } = await import('node:stream');
  const { logger, setLogFormat, setLogLevel } = await import('./logging.js');
  const level = logger.level; // the suite runs with QMIG_LOG_LEVEL=error
  const lines: string[] = [];
  const sink = new winston.transports.Stream({
    stream: new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  });
  logger.add(sink);
  try {
    setLogLevel('info');
    setLogFormat('pretty');
    logger.child({ migration_id: 'm-1', queue: 'orders q' }).info('queue migrated', { password: 'hunter2', url: 'amqp://app:s3cret@h:5672', moved: 12 });
    setLogFormat('json');
    logger.info('json again', { token: 'abc' });
  } finally {
    logger.remove(sink);
    setLogLevel(level);
  }
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\S+Z INFO  queue migrated  /);
  assert.match(lines[0], /migration_id=m-1 queue="orders q"/);
  assert.match(lines[0], /password=\*\*\* url=amqp:\/\/\*\*\*@h:5672 moved=12/);
  assert.ok(!lines[0].includes('hunter2') && !lines[0].includes('s3cret') && !lines[0].trim().startsWith('{'));
  const json = JSON.parse(lines[1]);
  assert.equal(json.message, 'json again');
  assert.equal(json.token, '***');
});
