/** Demo mode's routes and keys: present only in demo mode, tokens only for seeded demo users, buying through a signed confirmation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { withDemoKeys } from '../src/config/demo-keys.ts';
import { startGateway } from './helpers/gateway.ts';
import { TEST_WEBHOOK_SECRET } from './helpers/payments.ts';

async function post(url: string, body: unknown, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
}

test('outside demo mode there is no page and no demo route', async (t) => {
  const g = await startGateway(t);
  assert.equal((await fetch(`${g.httpUrl}/`)).status, 404);
  assert.equal((await post(`${g.httpUrl}/demo/token`, { userId: 'demo-fan-none' })).status, 404);
  assert.equal((await post(`${g.httpUrl}/demo/buy`, { postId: 'demo-post-priced' })).status, 404);
});

test('demo routes: tokens for seeded demo users only; buy signs a confirmation the gateway accepts once', async (t) => {
  const g = await startGateway(t, { env: { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET }, demo: { pageDir: null } });
  const page = await fetch(`${g.httpUrl}/`);
  assert.equal(page.status, 404);
  assert.match(((await page.json()) as any).error.message, /not built/);
  const users = (await (await fetch(`${g.httpUrl}/demo/users`)).json()) as { users: { id: string }[] };
  assert.ok(users.users.some((u) => u.id === 'demo-creator'));
  assert.equal((await post(`${g.httpUrl}/demo/token`, { userId: 'not-a-demo-user' })).status, 404);
  const minted = await post(`${g.httpUrl}/demo/token`, { userId: 'demo-fan-none' });
  assert.equal(minted.status, 200);

  assert.equal((await post(`${g.httpUrl}/demo/buy`, { postId: 'demo-post-priced' })).status, 401);
  const bought = await post(`${g.httpUrl}/demo/buy`, { postId: 'demo-post-priced' }, minted.body.token);
  assert.equal(bought.status, 200, JSON.stringify(bought.body));
  assert.equal(bought.body.postId, 'demo-post-priced');
  assert.equal(bought.body.price, 0.1);
  const again = await post(`${g.httpUrl}/demo/buy`, { postId: 'demo-post-priced' }, minted.body.token);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'GW_ERR_PAYMENT_CONFLICT');
  assert.equal((await post(`${g.httpUrl}/demo/buy`, { postId: 'demo-post-free' }, minted.body.token)).status, 400);

  const subscribed = await post(`${g.httpUrl}/demo/buy`, { creatorId: 'demo-creator', plan: 'premium' }, minted.body.token);
  assert.equal(subscribed.status, 200, JSON.stringify(subscribed.body));
  assert.equal(subscribed.body.amount, 0.2); // the creator's own premium price from creator_tier_settings
  const cancelled = await post(`${g.httpUrl}/demo/cancel`, { creatorId: 'demo-creator' }, minted.body.token);
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.status, 'cancelled');
});

test('demo keys: generated once into DATA_DIR (mode 0600), kept across starts; the environment wins', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rt-demo-keys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await withDemoKeys(loadConfig({ DATA_DIR: dir }));
  assert.ok(first.config.apiKey && first.config.apiKey.length >= 32);
  assert.ok(first.config.paymentWebhookSecret && first.config.paymentWebhookSecret !== first.config.apiKey);
  assert.equal((await stat(first.files.apiKey!)).mode & 0o777, 0o600);
  const second = await withDemoKeys(loadConfig({ DATA_DIR: dir }));
  assert.equal(second.config.apiKey, first.config.apiKey);
  assert.equal(second.config.paymentWebhookSecret, first.config.paymentWebhookSecret);
  const fromEnv = await withDemoKeys(loadConfig({ DATA_DIR: dir, REALTIME_API_KEY: 'from-the-environment-0123' }));
  assert.equal(fromEnv.config.apiKey, 'from-the-environment-0123');
  assert.equal(fromEnv.files.apiKey, undefined);
});
