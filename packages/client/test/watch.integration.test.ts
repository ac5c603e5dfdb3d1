/** Entitlement-aware posts and the server-side client, against a real gateway on loopback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, TEST_API_KEY } from '../../server/test/helpers/gateway.ts';
import { TEST_WEBHOOK_SECRET } from '../../server/test/helpers/payments.ts';
import { createServerClient, RealtimeApiError } from '../src/server.ts';
import { clientFor, next, until } from './helpers.ts';

const gatewayEnv = { env: { PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET } };

test('watchPost: locked with its reason, unlocked in place by a purchase, content included', async (t) => {
  const g = await startGateway(t, gatewayEnv);
  const server = createServerClient({ url: g.httpUrl, apiKey: TEST_API_KEY, webhookSecret: TEST_WEBHOOK_SECRET });
  const client = clientFor(t, g, 'demo-fan-none');
  await next(client, 'connected');
  const watch = client.watchPost('demo-post-priced');
  t.after(() => watch.close());
  await until((fn) => watch.on('change', fn), () => watch.status === 'ready');
  assert.equal(watch.post!.access.hasAccess, false);
  assert.deepEqual(watch.post!.lock, { reason: 'purchase', requiredTier: null, price: 0.1, currency: 'SOL' });
  assert.equal('content' in watch.post!, false);

  const result = await server.confirmPayment({
    kind: 'post_purchase',
    txSignature: 'tx-watch-purchase',
    userId: 'demo-fan-none',
    postId: 'demo-post-priced',
    amount: 0.1,
    currency: 'SOL',
  });
  assert.equal(result.kind, 'post_purchase');
  assert.equal(result.replayed, false);
  await until((fn) => watch.on('change', fn), () => watch.post?.access.hasAccess === true, 10_000, 'unlocked');
  assert.match(watch.post!.content!, /full text of demo-post-priced/);
  assert.equal(watch.post!.lock, undefined);

  // The same confirmation again: the gateway replays its answer, nothing is written twice.
  const again = await server.confirmPayment({
    kind: 'post_purchase',
    txSignature: 'tx-watch-purchase',
    userId: 'demo-fan-none',
    postId: 'demo-post-priced',
    amount: 0.1,
    currency: 'SOL',
  });
  assert.equal(again.replayed, true);
  assert.deepEqual(again.eventIds, result.eventIds);
});

test('watchPost and watchCreator: a subscription unlocks the tier posts, a cancel locks them again', async (t) => {
  const g = await startGateway(t, gatewayEnv);
  const server = createServerClient({ url: g.httpUrl, apiKey: TEST_API_KEY, webhookSecret: TEST_WEBHOOK_SECRET });
  const client = clientFor(t, g, 'demo-fan-none');
  const watch = client.watchPost('demo-post-basic');
  const creator = client.watchCreator('demo-creator');
  t.after(() => (watch.close(), creator.close()));
  await until((fn) => watch.on('change', fn), () => watch.status === 'ready');
  await until((fn) => creator.on('change', fn), () => creator.status === 'ready');
  assert.equal(watch.post!.access.hasAccess, false);
  assert.equal(watch.post!.lock!.reason, 'tier');
  const basicInList = () => creator.list.find((p) => p.id === 'demo-post-basic')!;
  assert.equal(basicInList().access.hasAccess, false);

  await server.confirmPayment({
    kind: 'subscription',
    txSignature: 'tx-watch-sub',
    userId: 'demo-fan-none',
    creatorId: 'demo-creator',
    plan: 'basic',
    amount: 0.05,
    currency: 'SOL',
  });
  await until((fn) => watch.on('change', fn), () => watch.post?.access.hasAccess === true, 10_000, 'unlocked by subscribing');
  assert.match(watch.post!.content!, /full text of demo-post-basic/);
  await until((fn) => creator.on('change', fn), () => basicInList().access.hasAccess === true, 10_000, 'list unlocked');
  assert.equal(creator.list.find((p) => p.id === 'demo-post-vip')!.access.hasAccess, false);

  const cancelled = await server.cancelSubscription({ userId: 'demo-fan-none', creatorId: 'demo-creator' });
  assert.equal(cancelled.status, 'cancelled');
  await until((fn) => watch.on('change', fn), () => watch.post?.access.hasAccess === false && !!watch.post.lock, 10_000, 'locked again');
  assert.equal(watch.post!.content, undefined);
  assert.equal(watch.post!.lock!.reason, 'tier');
  await until((fn) => creator.on('change', fn), () => basicInList().access.hasAccess === false, 10_000, 'list locked again');
});

test('watchPost loaded before the client connects: a purchase in between still unlocks it once connected', async (t) => {
  const g = await startGateway(t, gatewayEnv);
  const server = createServerClient({ url: g.httpUrl, webhookSecret: TEST_WEBHOOK_SECRET });
  const client = clientFor(t, g, 'demo-fan-none', { autoConnect: false });
  const watch = client.watchPost('demo-post-priced');
  t.after(() => watch.close());
  await until((fn) => watch.on('change', fn), () => watch.status === 'ready');
  assert.equal(watch.post!.access.hasAccess, false);
  // Bought while no socket is open: the event is on the user's channel before the client's subscription to it starts.
  await server.confirmPayment({
    kind: 'post_purchase',
    txSignature: 'tx-watch-before-connect',
    userId: 'demo-fan-none',
    postId: 'demo-post-priced',
    amount: 0.1,
    currency: 'SOL',
  });
  assert.equal(watch.post!.access.hasAccess, false);
  client.connect();
  await until((fn) => watch.on('change', fn), () => watch.post?.access.hasAccess === true, 10_000, 'unlocked after connecting');
  assert.match(watch.post!.content!, /full text of demo-post-priced/);
});

test('server client: publish retries with one idempotency key; refusals are typed and not retried', async (t) => {
  const g = await startGateway(t, gatewayEnv);
  let calls = 0;
  const bodies: string[] = [];
  // The first attempt fails in the network (as a dropped connection would); the retry must not publish twice.
  const flaky: typeof fetch = async (input, init) => {
    calls++;
    bodies.push(String(init?.body));
    if (calls === 1) {
      await fetch(input, init); // the gateway got it...
      throw new TypeError('fetch failed'); // ...but the answer was lost
    }
    return fetch(input, init);
  };
  const server = createServerClient({ url: g.httpUrl, apiKey: TEST_API_KEY, fetch: flaky, retryDelayMs: 10 });
  const client = clientFor(t, g, 'demo-fan-none');
  const sub = client.subscribe('creator:demo-creator');
  await next(sub, 'state', (s) => s === 'subscribed');
  const seen: string[] = [];
  sub.on('event', (f) => seen.push(f.id));
  const published = await server.publish({ channel: 'creator:demo-creator', type: 'post-liked', data: { postId: 'demo-post-free' } });
  assert.equal(calls, 2);
  assert.equal(bodies[0], bodies[1]); // same idempotency key both times
  assert.equal(published.duplicate, true);
  // A marker published after it: once the marker is here, everything before it is too (in order per channel).
  const markerSeen = next(sub, 'event', (f) => (f.type as string) === 'marker');
  const marker = await server.publish({ channel: 'creator:demo-creator', type: 'marker' });
  await markerSeen;
  assert.deepEqual(seen, [published.id, marker.id]);

  const wrongKey = createServerClient({ url: g.httpUrl, apiKey: 'not-the-key-0123456789' });
  await assert.rejects(wrongKey.publish({ userId: 'demo-fan-none', type: 'x' }), (err: RealtimeApiError) => {
    assert.equal(err.status, 401);
    assert.equal(err.code, 'GW_ERR_API_UNAUTHORIZED');
    return true;
  });
  const wrongSecret = createServerClient({ url: g.httpUrl, webhookSecret: 'another-secret-0123456789' });
  await assert.rejects(
    wrongSecret.confirmPayment({ kind: 'post_purchase', txSignature: 'x', userId: 'demo-fan-none', postId: 'demo-post-priced', amount: 0.1, currency: 'SOL' }),
    (err: RealtimeApiError) => err.status === 401 && err.code === 'GW_ERR_PAYMENT_SIGNATURE',
  );
  await assert.rejects(
    createServerClient({ url: g.httpUrl, webhookSecret: TEST_WEBHOOK_SECRET }).confirmPayment({
      kind: 'post_purchase',
      txSignature: 'tx-wrong-amount',
      userId: 'demo-fan-none',
      postId: 'demo-post-priced',
      amount: 0.2,
      currency: 'SOL',
    }),
    (err: RealtimeApiError) => err.status === 422 && err.field === 'amount',
  );
});
