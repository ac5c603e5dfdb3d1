import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { TestClient } from './helpers/ws-client.ts';
import { startGateway, TEST_SECRET } from './helpers/gateway.ts';

const now = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>, iat: number | null, exp: number): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp);
  if (iat !== null) jwt = jwt.setIssuedAt(iat);
  return jwt.sign(new TextEncoder().encode(TEST_SECRET));
}

test('MAX_TOKEN_TTL refuses tokens that live longer (4001), by exp - iat, or exp - now without iat', async (t) => {
  const gw = await startGateway(t, { env: { MAX_TOKEN_TTL: '600' } });
  const user = { userId: 'demo-fan-basic' };
  const cases: [string, number | null, number, number, string][] = [
    ['exp - iat = 600', now(), now() + 600, 0, 'connected'],
    ['exp - iat = 601', now(), now() + 601, 4001, 'token lifetime is longer than allowed'],
    ['old iat, long life, not expired', now() - 3000, now() + 60, 4001, 'token lifetime is longer than allowed'],
    ['no iat, 10 minutes left', null, now() + 590, 0, 'connected'],
    ['no iat, a day left', null, now() + 86_400, 4001, 'token lifetime is longer than allowed'],
  ];
  for (const [name, iat, exp, code, outcome] of cases) {
    const client = new TestClient(`${gw.wsUrl}?token=${await sign(user, iat, exp)}`);
    if (code === 0) {
      assert.equal((await client.next('connected')).data.userId, 'demo-fan-basic', name);
      client.close();
    } else {
      assert.deepEqual(await client.closed, { code, reason: outcome }, name);
    }
  }
});
