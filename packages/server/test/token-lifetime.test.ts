import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warningTime } from '../src/gateway/token-lifetime.ts';

test('token-expiring is due min(TOKEN_REFRESH_WINDOW_MS, 10% of the lifetime) before exp', () => {
  const iat = 1_000_000;
  // A one-hour token: the 60 s window is the smaller lead.
  assert.equal(warningTime(iat + 3_600_000, iat, iat, 60_000), iat + 3_600_000 - 60_000);
  // A 3 s token: 10% of its lifetime, so it is not warned on arrival.
  assert.equal(warningTime(iat + 3000, iat, iat + 500, 60_000), iat + 2700);
  // Without iat the lifetime counts from the authentication.
  assert.equal(warningTime(iat + 10_000, null, iat + 5000, 60_000), iat + 9500);
  // A window of 0: warned at exp itself; an already expired token: no negative lead.
  assert.equal(warningTime(iat + 10_000, iat, iat, 0), iat + 10_000);
  assert.equal(warningTime(iat, iat + 5000, iat + 6000, 60_000), iat);
});
