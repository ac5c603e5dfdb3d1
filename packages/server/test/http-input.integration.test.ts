import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/logger.ts';
import { startGateway } from './helpers/gateway.ts';

test('bad ids and unstorable event data are 400s, not 500s or 414s, and log no error', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const gw = await startGateway(t, { logger: createLogger('info', sink) });

  for (const path of ['/v1/posts/%00', '/v1/posts/a%01b', '/v1/creators/%00/posts']) {
    const res = await fetch(`${gw.httpUrl}${path}`);
    assert.equal(res.status, 400, path);
    assert.equal(((await res.json()) as any).error.code, 'GW_ERR_BAD_REQUEST', path);
  }
  // Ids may have up to 128 characters: 101-128 are looked up (404 here), 129 is refused by the schema (400).
  for (const length of [101, 128]) {
    const res = await fetch(`${gw.httpUrl}/v1/posts/${'p'.repeat(length)}`);
    assert.equal(res.status, 404, `id of ${length} characters`);
  }
  assert.equal((await fetch(`${gw.httpUrl}/v1/posts/${'p'.repeat(129)}`)).status, 400);

  const nul = await gw.api('/v1/publish', '{"userId":"demo-fan-basic","type":"t","data":{"text":"a\\u0000b"}}');
  assert.equal(nul.status, 400);
  assert.deepEqual([nul.body.error.code, nul.body.error.field], ['GW_ERR_BAD_REQUEST', 'data']);
  const nulKey = await gw.api('/v1/publish', '{"userId":"demo-fan-basic","type":"t","data":{"a\\u0000":1}}');
  assert.equal(nulKey.status, 400);
  const deep = `{"userId":"demo-fan-basic","type":"t","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  const nested = await gw.api('/v1/publish', deep);
  assert.equal(nested.status, 400);
  assert.match(nested.body.error.message, /nested deeper than 32/);
  const fine = await gw.api('/v1/publish', { userId: 'demo-fan-basic', type: 't', data: { a: [[[{ b: 'ok' }]]] } });
  assert.equal(fine.status, 200, JSON.stringify(fine.body));

  const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50);
  assert.deepEqual(errors.map((l) => l.msg), [], 'no error log line');
});
