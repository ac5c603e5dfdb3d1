/**
 * Events a request commits are published by its node right after the commit (outbox/committed-publisher.ts), with
 * the relay as the fallback: nothing needs a NOTIFY or a relay pass to arrive, the node's own sockets get the events
 * without the broker's echo, and what the broker refuses is published by a relay's poll, once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import type { BrokerMessage } from '../src/broker/broker.ts';
import { queryRows } from '../src/db/client.ts';
import { startGateway } from './helpers/gateway.ts';
import { confirm, TEST_WEBHOOK_SECRET } from './helpers/payments.ts';

async function publishedAt(gw: Awaited<ReturnType<typeof startGateway>>, eventId: string): Promise<Date | null> {
  const [row] = await queryRows<{ published_at: Date | string | null }>(
    gw.db.orm,
    sql`select published_at from realtime.outbox where event_id = ${eventId}`,
  );
  assert.ok(row, `outbox row of ${eventId}`);
  return row.published_at === null ? null : new Date(row.published_at);
}

/** Waits until the event's row is marked published; fails after 5 s. */
async function markedPublished(gw: Awaited<ReturnType<typeof startGateway>>, eventId: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await publishedAt(gw, eventId)) === null) {
    assert.ok(Date.now() < deadline, `row of ${eventId} marked published`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a published event arrives with the relay stopped, and its row is marked published', async (t) => {
  // A poll far away: only the node's own publish after the commit can deliver within the test.
  const gw = await startGateway(t, { env: { OUTBOX_POLL_MS: '600000', PAYMENT_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET } });
  const client = await gw.connect('demo-fan-vip');
  await gw.node.relay.stop();
  const res = await gw.api('/v1/publish', { userId: 'demo-fan-vip', type: 'direct', data: { n: 1 } });
  assert.equal(res.status, 200);
  const event = await client.next('direct', 5000);
  assert.equal(event.id, res.body.id);
  await markedPublished(gw, event.id);

  // The same for a payment and a cancel: post-purchased and subscription-updated come without the relay.
  const buyer = await gw.connect('demo-fan-none');
  const purchase = await confirm(gw.httpUrl, { kind: 'post_purchase', txSignature: 'tx-direct-1', userId: 'demo-fan-none', postId: 'demo-post-priced', amount: 0.1, currency: 'SOL' });
  assert.equal(purchase.status, 200);
  assert.equal((await buyer.next('post-purchased', 5000)).data.postId, 'demo-post-priced');
  const cancel = await gw.api('/v1/subscriptions/cancel', { userId: 'demo-fan-vip', creatorId: 'demo-creator' });
  assert.equal(cancel.status, 200);
  assert.equal((await client.next('subscription-updated', 5000)).data.status, 'cancelled');
});

test("events the broker refused reach the node's own sockets at once, and other nodes through the relay, once", async (t) => {
  const gw = await startGateway(t, { env: { OUTBOX_POLL_MS: '300' } });
  const client = await gw.connect('demo-fan-vip');
  const broker = gw.node.broker;
  const publish = broker.publish.bind(broker);
  let attempts = 0;
  const seen: BrokerMessage[] = [];
  broker.publish = async (messages: readonly BrokerMessage[]) => {
    if (messages.some((m) => m.type === 'refused-once') && attempts++ === 0) throw new Error('broker down for a moment');
    seen.push(...messages.filter((m) => m.type === 'refused-once'));
    return publish(messages);
  };
  const res = await gw.api('/v1/publish', { userId: 'demo-fan-vip', type: 'refused-once' });
  assert.equal(res.status, 200, 'the commit stands: the broker is not part of it');
  const event = await client.next('refused-once', 5000);
  assert.equal(event.id, res.body.id);
  // A poll leaves rows younger than a second to their committer, then publishes what it left unmarked.
  const deadline = Date.now() + 5000;
  while (seen.length === 0) {
    assert.ok(Date.now() < deadline, 'published by the relay');
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(attempts, 2, 'refused right after the commit, then taken from the relay');
  await markedPublished(gw, event.id); // by the relay, which publishes before it commits its mark
  await new Promise((r) => setTimeout(r, 700)); // two more polls
  assert.equal(seen.length, 1, 'published by the relay, once');
  assert.deepEqual(await client.none('refused-once', 300), [], 'the broker copy is dropped: delivered once');
});
