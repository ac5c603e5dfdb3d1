import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, SignJWT } from 'jose';
import { startGateway, TEST_SECRET } from './helpers/gateway.ts';
import { startTwoNodes } from './helpers/two-nodes.ts';
import { TestClient } from './helpers/ws-client.ts';
import { sql } from 'drizzle-orm';
import { MemoryBroker } from '../src/broker/memory-broker.ts';
import { queryRows, type Orm } from '../src/db/client.ts';
import { appendEvents } from '../src/db/outbox.ts';
import { disconnectUser, userAuthStates } from '../src/db/token-not-before.ts';
import { toBrokerMessage } from '../src/outbox/relay.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';

test('token-expiring comes ahead of exp; a fresh auth keeps the socket and its subscriptions past the first exp', async (t) => {
  const gw = await startGateway(t, { env: { TOKEN_REFRESH_WINDOW_MS: '4000', TOKEN_EXPIRY_GRACE_MS: '500' } });
  // Issued long ago, so the lead is the window (4 s, not 10% of the lifetime); 5 s left.
  const now = Math.floor(Date.now() / 1000);
  const short = await new SignJWT({ userId: 'demo-fan-basic' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now - 1000)
    .setExpirationTime(now + 5)
    .sign(new TextEncoder().encode(TEST_SECRET));
  const exp = (now + 5) * 1000;
  const refreshing = await TestClient.open(`${gw.wsUrl}?token=${short}`);
  const lapsing = await TestClient.open(`${gw.wsUrl}?token=${short}`);
  await Promise.all([refreshing.next('connected'), lapsing.next('connected')]);
  refreshing.send({ type: 'subscribe', channel: 'creator:demo-creator' });
  assert.equal((await refreshing.next('subscribed')).data.channelKey, 'creator_demo-creator');

  const warning = await refreshing.next('token-expiring');
  assert.deepEqual(warning.data, { expiresAt: exp });
  assert.ok(Date.now() >= exp - 4000 - 20, `not before exp − window (${exp - Date.now()} ms before exp)`);
  assert.deepEqual((await lapsing.next('token-expiring')).data, { expiresAt: exp });
  // The same token again is no refresh: no second warning for the same expiry.
  lapsing.send({ type: 'auth', token: short });
  assert.equal((await lapsing.next('authenticated')).data.expiresAt, exp);

  const fresh = await gw.token('demo-fan-basic', 600);
  refreshing.send({ type: 'auth', token: fresh });
  const authenticated = await refreshing.next('authenticated');
  assert.deepEqual(authenticated.data, { userId: 'demo-fan-basic', expiresAt: decodeJwt(fresh).exp! * 1000 });

  const closed = await lapsing.closed;
  assert.deepEqual([closed.code, closed.reason], [4001, 'token expired']);
  assert.ok(Date.now() >= exp + 500 - 20, 'the socket without a fresh token stays for the grace period');
  assert.deepEqual(lapsing.frames.filter((f) => f.type === 'token-expiring'), [], 'one warning per expiry');

  const published = await gw.api('/v1/publish', { channel: 'creator:demo-creator', type: 'tick', data: { n: 1 } });
  assert.equal(published.status, 200);
  const tick = await refreshing.next('tick');
  assert.equal(tick.id, published.body.id, 'the subscription outlived the first token');
  refreshing.send({ type: 'ping' });
  assert.equal((await refreshing.next('pong')).type, 'pong');
  assert.deepEqual(await refreshing.none('token-expiring', 200), [], 'the fresh token is far from its warning');
  refreshing.close();
});

test('sockets with different token expiries each close at their own exp + grace, in order; a closed or refreshed one drops out', async (t) => {
  const gw = await startGateway(t, { env: { TOKEN_REFRESH_WINDOW_MS: '0', TOKEN_EXPIRY_GRACE_MS: '300' } });
  const now = Math.floor(Date.now() / 1000);
  const token = (userId: string, exp: number) =>
    new SignJWT({ userId })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now - 1000)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(TEST_SECRET));
  // Opened latest-expiry first, so the one timer has to move earlier as sockets arrive.
  const specs = [
    { name: 'late', userId: 'demo-fan-vip', exp: now + 4 },
    { name: 'gone', userId: 'demo-fan-free', exp: now + 2 },
    { name: 'early', userId: 'demo-fan-basic', exp: now + 2 },
    { name: 'middle', userId: 'demo-fan-premium', exp: now + 3 },
    { name: 'refreshed', userId: 'demo-fan-none', exp: now + 2 },
  ];
  const clients = new Map<string, TestClient>();
  for (const spec of specs) {
    const client = await TestClient.open(`${gw.wsUrl}?token=${await token(spec.userId, spec.exp)}`);
    await client.next('connected');
    clients.set(spec.name, client);
  }
  clients.get('gone')!.close();
  clients.get('refreshed')!.send({ type: 'auth', token: await gw.token('demo-fan-none', 600) });
  assert.equal((await clients.get('refreshed')!.next('authenticated')).data.userId, 'demo-fan-none');

  const closedAt = new Map<string, number>();
  await Promise.all(
    ['early', 'middle', 'late'].map(async (name) => {
      const closed = await clients.get(name)!.closed;
      closedAt.set(name, Date.now());
      assert.deepEqual([closed.code, closed.reason], [4001, 'token expired'], name);
    }),
  );
  for (const spec of specs.filter((s) => closedAt.has(s.name))) {
    const at = closedAt.get(spec.name)!;
    assert.ok(at >= spec.exp * 1000 + 300 - 20, `${spec.name} closed ${spec.exp * 1000 + 300 - at} ms before exp + grace`);
    assert.ok(at < spec.exp * 1000 + 300 + 900, `${spec.name} closed ${at - spec.exp * 1000 - 300} ms after exp + grace`);
  }
  assert.ok(closedAt.get('early')! < closedAt.get('middle')! && closedAt.get('middle')! < closedAt.get('late')!);
  const refreshed = clients.get('refreshed')!;
  refreshed.send({ type: 'ping' });
  assert.equal((await refreshed.next('pong')).type, 'pong', 'the refreshed socket outlived its first exp');
  refreshed.close();
});

test('disconnect closes the user\'s sockets on both nodes with 4002 and no one else\'s; the old token stays refused', async (t) => {
  const { a, b } = await startTwoNodes(t);
  const oldToken = await a.token('demo-fan-basic');
  const open = (gw: typeof a, token: string) => TestClient.open(`${gw.wsUrl}?token=${token}`);
  const targets = await Promise.all([open(a, oldToken), open(a, oldToken), open(b, oldToken)]);
  for (const c of targets) await c.next('connected');
  const others = [await a.connect('demo-fan-vip'), await b.connect('demo-fan-vip')];

  const noKey = await a.api('/v1/users/demo-fan-basic/disconnect', {}, { authorization: '' });
  assert.equal(noKey.status, 401);
  assert.equal(noKey.body.error.code, 'GW_ERR_API_UNAUTHORIZED');
  const wrongKey = await a.api('/v1/users/demo-fan-basic/disconnect', {}, { authorization: 'Bearer not-the-key-0123456789' });
  assert.equal(wrongKey.status, 401);
  for (const c of targets) c.send({ type: 'ping' });
  for (const c of targets) assert.equal((await c.next('pong')).type, 'pong', 'a refused call disconnects no one');

  const res = await a.api('/v1/users/demo-fan-basic/disconnect', {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.userId, 'demo-fan-basic');
  assert.ok(res.body.notBefore > Date.now() - 1000 && res.body.notBefore % 1000 === 0);
  for (const c of targets) {
    const closed = await c.closed;
    assert.deepEqual([closed.code, closed.reason], [4002, 'disconnected by the server']);
    assert.deepEqual(c.frames.filter((f) => f.type.startsWith('_')), [], 'the internal event is never sent');
  }
  for (const c of others) {
    c.send({ type: 'ping' });
    assert.equal((await c.next('pong')).type, 'pong', 'other users stay connected');
    assert.deepEqual(await c.none((f) => f.type.startsWith('_'), 100), []);
  }

  for (const gw of [a, b]) {
    const again = await open(gw, oldToken);
    const refused = await again.closed;
    assert.deepEqual([refused.code, refused.reason], [4002, 'disconnected by the server'], 'the old token cannot reconnect');
  }
  const viaFrame = await TestClient.open(a.wsUrl);
  viaFrame.send({ type: 'auth', token: oldToken });
  assert.equal((await viaFrame.closed).code, 4002);
  const http = await fetch(`${b.httpUrl}/v1/posts/demo-post-basic`, { headers: { authorization: `Bearer ${oldToken}` } });
  assert.equal(http.status, 401);
  assert.equal(((await http.json()) as any).error.code, 'GW_ERR_DISCONNECTED');

  // A token issued from notBefore on works again (iat has one-second resolution).
  // A timer may fire a millisecond before the wall clock reaches its time, and a token minted then is refused.
  while (Date.now() < res.body.notBefore) await new Promise((r) => setTimeout(r, res.body.notBefore - Date.now() + 1));
  const newToken = await a.token('demo-fan-basic');
  const back = await open(b, newToken);
  assert.equal((await back.next('connected')).data.userId, 'demo-fan-basic');
  back.close();
  for (const c of others) c.close();
});

test('a token without iat is refused once the user was disconnected', async (t) => {
  const gw = await startGateway(t);
  const noIat = await new SignJWT({ userId: 'demo-fan-vip' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(TEST_SECRET));
  const before = await TestClient.open(`${gw.wsUrl}?token=${noIat}`);
  await before.next('connected');
  assert.equal((await gw.api('/v1/users/demo-fan-vip/disconnect', {})).status, 200);
  assert.equal((await before.closed).code, 4002);
  const after = await TestClient.open(`${gw.wsUrl}?token=${noIat}`);
  assert.equal((await after.closed).code, 4002);
  const bad = await gw.api('/v1/users/bad%20id/disconnect', {});
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'GW_ERR_BAD_REQUEST');
});

test('the auth states of many users come in one query: unknown, never disconnected, disconnected', async (t) => {
  const gw = await startGateway(t);
  const notBefore = await disconnectUser(gw.db.orm, 'demo-fan-basic');
  const states = await userAuthStates(gw.db.orm, ['demo-fan-basic', 'demo-fan-vip', 'no-such-user', 'demo-fan-basic']);
  assert.deepEqual(
    [...states].sort(([a], [b]) => a.localeCompare(b)),
    [
      ['demo-fan-basic', { exists: true, notBefore }],
      ['demo-fan-vip', { exists: true, notBefore: null }],
      ['no-such-user', { exists: false, notBefore: null }],
    ],
  );
});

/** The in-process broker, except that routing a gated channel here waits until the test releases it. */
class GatedBroker extends MemoryBroker {
  readonly #gates = new Map<string, { reached: () => void; released: Promise<void> }>();

  /** Holds the routing of `key`; resolves `reached` once the hub asks for it, and routes it on `release()`. */
  gate(key: string): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#gates.set(key, { reached, released });
    return { reached: reachedP, release };
  }

  override async addChannels(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const gate = this.#gates.get(key);
      if (!gate) continue;
      gate.reached();
      await gate.released;
    }
    return super.addChannels(keys);
  }
}

test("a disconnect committed while a connecting user's channel is being routed here refuses the socket (4002, no `connected`)", async (t) => {
  const broker = new GatedBroker();
  const gw = await startGateway(t, { broker });
  // The token is valid and the user exists when the socket opens; the disconnect commits (in the database alone: no
  // event reaches this node, the channel is not routed here yet) while the socket waits for its user's channel.
  const basic = broker.gate('user_demo-fan-basic');
  const refused = new TestClient(`${gw.wsUrl}?token=${await gw.token('demo-fan-basic')}`);
  await basic.reached;
  await disconnectUser(gw.db.orm, 'demo-fan-basic');
  basic.release();
  const closed = await refused.closed;
  assert.deepEqual([closed.code, closed.reason], [4002, 'disconnected by the server']);
  assert.deepEqual(refused.frames.map((f) => f.type), [], 'no `connected` before the close');

  // Another user connects as usual through the same node.
  const vip = await gw.connect('demo-fan-vip');
  vip.send({ type: 'ping' });
  assert.equal((await vip.next('pong')).type, 'pong');
});
test("a disconnect committed while a connecting user's channel head is read refuses the socket (4002, no `connected`)", async (t) => {
  // PostgreSQL: the head read has to wait for another transaction (PGlite runs one statement at a time).
  const { db } = await createPostgresTestDatabase(t);
  const gw = await startGateway(t, { db });
  const token = await gw.token('demo-fan-basic');
  let refused: TestClient | undefined;
  // The disconnect's transaction locks the channel offsets first, so the socket's head read (which comes after its
  // token check and the routing of its channel) waits for the disconnect's commit; it then sees the disconnect's
  // event in the head, and no event of it arrives live.
  await db.orm.transaction(async (tx) => {
    await tx.execute(sql`lock table realtime.channel_offsets in exclusive mode`);
    refused = new TestClient(`${gw.wsUrl}?token=${token}`);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [row] = await queryRows<{ waiting: number }>(
        db.orm,
        sql`select count(*)::int as waiting from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and query like '%insert into realtime.channel_offsets%'`,
      );
      if (row!.waiting > 0) break;
      assert.ok(Date.now() < deadline, 'the head read never waited for the lock');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await disconnectUser(tx as unknown as Orm, 'demo-fan-basic');
  });
  const closed = await refused!.closed;
  assert.deepEqual([closed.code, closed.reason], [4002, 'disconnected by the server']);
  assert.deepEqual(refused!.frames.map((f) => f.type), [], 'no `connected` before the close');

  const vip = await gw.connect('demo-fan-vip');
  vip.send({ type: 'ping' });
  assert.equal((await vip.next('pong')).type, 'pong');
});


test("a disconnect whose event a node lost still closes the user's socket there: the resync re-reads the user with the head (4002)", async (t) => {
  const gw = await startGateway(t);
  const client = await gw.connect('demo-fan-basic');
  await gw.node.relay.stop(); // nothing reaches the broker: the node sees only what the test hands it
  await disconnectUser(gw.db.orm, 'demo-fan-basic');
  // The disconnect's event is gone before this node got it (as if pruned), and a later event shows the hole.
  await gw.db.orm.execute(sql`delete from realtime.outbox where channel = 'user_demo-fan-basic' and type = '_disconnect'`);
  const [later] = await gw.db.orm.transaction((tx) => appendEvents(tx, [{ channel: 'user_demo-fan-basic', type: 'tick', data: {} }]));
  gw.node.hub.deliver(toBrokerMessage(later!));
  const resync = await client.next('unsubscribed');
  assert.deepEqual([resync.data.channelKey, resync.data.reason], ['user_demo-fan-basic', 'resync']);
  const closed = await Promise.race([client.closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 3000))]);
  assert.deepEqual(closed, { code: 4002, reason: 'disconnected by the server' });
});
