/** Reconnect delays and token timing, the pure parts of the connection loop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../src/backoff.ts';
import { refreshDelay, tokenTimes } from '../src/token.ts';

test('backoff caps double from 0.5 s to 20 s and reset', () => {
  const backoff = new Backoff({ random: () => 0.999999 });
  const delays = Array.from({ length: 9 }, () => backoff.next());
  assert.deepEqual(delays, [499, 999, 1999, 3999, 7999, 15999, 19999, 19999, 19999]);
  backoff.reset();
  assert.equal(backoff.cap(), 500);
});

test('full jitter: delays are uniform over [0, cap), not clustered at the cap', () => {
  const delays: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const backoff = new Backoff();
    for (let a = 0; a < 6; a++) backoff.next(); // the 7th attempt: cap 20 s
    delays.push(backoff.next());
  }
  const buckets = Array.from({ length: 10 }, (_, b) => delays.filter((d) => Math.floor(d / 2000) === b).length);
  assert.ok(Math.max(...delays) < 20_000 && Math.min(...delays) >= 0);
  // 200 expected per 2 s bucket; allow wide statistical slack (a fixed delay or a half-jitter would put 0 in some).
  for (const n of buckets) assert.ok(n > 120 && n < 280, `bucket counts ${buckets.join(',')}`);
});

test('tokens refresh a quarter of their lifetime before exp, at most a minute before', () => {
  const now = 1_000_000_000_000;
  assert.equal(refreshDelay(now + 3600_000, now, now), 3540_000);
  assert.equal(refreshDelay(now + 4000, now, now), 3000);
  assert.equal(refreshDelay(now - 1000, now - 5000, now), 0);
  const payload = Buffer.from(JSON.stringify({ exp: 2_000_000_000, iat: 1_999_999_000 })).toString('base64url');
  assert.deepEqual(tokenTimes(`h.${payload}.s`), { expiresAt: 2_000_000_000_000, issuedAt: 1_999_999_000_000 });
  assert.deepEqual(tokenTimes('not a jwt'), { expiresAt: null, issuedAt: null });
});
