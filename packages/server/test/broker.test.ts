/**
 * Broker tests. The contract runs against MemoryBroker always and against RedisBroker when REDIS_URL is
 * set. Failure tests that need no Redis server (a closed port, a server that never answers) always run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { createBroker, MemoryBroker, RedisBroker, type Broker, type BrokerMessage } from '../src/broker/index.ts';
import { WorkerBus, type WorkerBusTransport } from '../src/broker/worker-bus.ts';
import { brokerContract, message, subscribed, until } from './broker.contract.ts';
import { freePort, startOwnRedis } from './helpers/redis.ts';

const REDIS_URL = process.env.REDIS_URL;

const memoryClusters = new Map<string, MemoryBroker>();
brokerContract('MemoryBroker', ({ cluster, onError }) => {
  const broker = new MemoryBroker({ peer: memoryClusters.get(cluster), onError });
  if (!memoryClusters.has(cluster)) memoryClusters.set(cluster, broker);
  return broker;
});

/**
 * The workers' bus with a fake primary in place of node:cluster: each cluster name is one machine; an envelope is
 * copied through JSON (as the IPC channel does) and forwarded, in arrival order, to every worker of the machine.
 */
const machines = new Map<string, Set<(message: unknown) => void>>();
brokerContract('WorkerBus', ({ cluster, onError }) => {
  const workers = machines.get(cluster) ?? new Set<(message: unknown) => void>();
  machines.set(cluster, workers);
  const mine = new Set<(message: unknown) => void>();
  const transport: WorkerBusTransport = {
    send(envelope, done) {
      const copy = JSON.parse(JSON.stringify(envelope)) as unknown;
      setImmediate(() => {
        for (const listener of workers) listener(copy);
      });
      done(null);
    },
    onMessage(listener) {
      mine.add(listener);
      workers.add(listener);
    },
    offMessage(listener) {
      mine.delete(listener);
      workers.delete(listener);
    },
    connected: () => true,
  };
  return new WorkerBus({ transport, onError });
});

if (REDIS_URL) {
  brokerContract('RedisBroker', ({ cluster, onError }) => new RedisBroker({ url: REDIS_URL, prefix: testPrefix(cluster), onError }));
}

test('createBroker: memory without a URL, Redis with one, and neither connects before use', async () => {
  const memory = createBroker({});
  const redis = createBroker({ redisUrl: 'redis://127.0.0.1:1' });
  assert.ok(memory instanceof MemoryBroker);
  assert.ok(redis instanceof RedisBroker);
  assert.equal(redis.isHealthy(), false);
  await Promise.all([memory.close(), redis.close()]);
});

test('RedisBroker: every added channel is subscribed again after CLIENT KILL and after a Redis restart; onResubscribed fires each time', async (t) => {
  const redis = await startOwnRedis(t);
  const prefix = testPrefix(randomUUID());
  const errors: Error[] = [];
  const recovered: string[] = [];
  const node = new RedisBroker({ url: redis.url, prefix, heartbeatMs: 200, onError: (err) => errors.push(err), onRecovered: (m) => recovered.push(m) });
  const publisher = new RedisBroker({ url: redis.url, prefix, onError: () => {} });
  let resubscribed = 0;
  const received: BrokerMessage[] = [];
  t.after(() => Promise.all([node.close(), publisher.close()]));
  await node.subscribe((m) => received.push(m), { onResubscribed: () => resubscribed++ });
  const channels = Array.from({ length: 1500 }, (_, i) => `post_${i}`);
  await node.addChannels(channels);
  assert.equal(node.subscribedChannelCount, 1500);
  assert.equal(resubscribed, 0, 'not called for the first subscription');

  /** Publishes on the first and last channel once onResubscribed fired: both arrive, nothing else. */
  const expectRouted = async (round: string): Promise<void> => {
    received.length = 0;
    const sent = [message(`${round}-first`, 'post_0', 1, 0), message(`${round}-off`, 'post_other', 1, 0), message(`${round}-last`, 'post_1499', 1, 0)];
    // The publisher reconnects on its own schedule: retry until it takes the batch.
    const deadline = Date.now() + 10_000;
    while (!(await publisher.publish(sent).then(() => true, () => false))) {
      assert.ok(Date.now() < deadline, 'the publisher did not reconnect');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await until(() => received.length >= 2, `the ${round} messages`);
    assert.deepEqual(received.map((m) => m.id), [`${round}-first`, `${round}-last`]);
  };
  await expectRouted('start');

  const admin = new Redis(redis.url);
  admin.on('error', () => {}); // it sees the restart below too
  t.after(() => admin.disconnect());
  assert.equal(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1);
  await until(() => resubscribed === 1, 'onResubscribed after CLIENT KILL');
  assert.equal(node.subscribedChannelCount, 1500);
  assert.ok(node.isHealthy());
  await expectRouted('after-kill');

  await redis.kill();
  await until(() => !node.isHealthy(), 'the loss to be noticed');
  // Down long enough for several reconnect attempts of both connections to fail.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await redis.start();
  await until(() => resubscribed === 2, 'onResubscribed after the Redis restart');
  assert.equal(node.subscribedChannelCount, 1500);
  await expectRouted('after-restart');

  // Once per state change: down and up again for each loss, however many reconnect attempts failed meanwhile.
  const subscriberLines = errors.filter((e) => /subscriber/.test(e.message)).length;
  assert.equal(subscriberLines, 2, errors.map((e) => e.message).join('\n'));
  assert.equal(errors.filter((e) => /publisher/.test(e.message)).length, 1, 'the publisher: one line for the restart');
  assert.equal(recovered.filter((m) => /publisher: connected again/.test(m)).length, 1);
  assert.equal(recovered.filter((m) => /subscriber: subscribed again to 1500 channel/.test(m)).length, 2);
});

test('RedisBroker: publish rejects fast when Redis is unreachable, and the broker is unhealthy', async (t) => {
  const port = await freePort();
  const errors: Error[] = [];
  const broker = new RedisBroker({ url: `redis://127.0.0.1:${port}`, publishTimeoutMs: 1000, onError: (err) => errors.push(err) });
  t.after(() => broker.close());

  for (let attempt = 0; attempt < 2; attempt++) {
    const started = Date.now();
    await assert.rejects(broker.publish([message('m', 'post_1', 1, {})]), /cannot publish while the Redis connection is (reconnecting|connecting)/);
    assert.ok(Date.now() - started < 1000, 'rejected before the timeout: no offline queue');
  }
  assert.equal(broker.isHealthy(), false);
  assert.match(errors[0]?.message ?? '', /^redis broker publisher: connect ECONNREFUSED/);
});

test('RedisBroker: subscribe waits for an unreachable Redis, and close ends the wait', async (t) => {
  const port = await freePort();
  const broker = new RedisBroker({ url: `redis://127.0.0.1:${port}`, onError: () => {} });
  t.after(() => broker.close());
  let settled = false;
  const subscribing = broker.subscribe(() => {}).finally(() => {
    settled = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(settled, false);
  assert.equal(broker.isHealthy(), false);
  await broker.close();
  await assert.rejects(subscribing, /closed before Redis confirmed the subscription/);
});

test('RedisBroker: publish rejects within publishTimeoutMs when Redis accepts but never answers', async (t) => {
  const silent = await listen(createServer(() => {}), t);
  const broker = new RedisBroker({ url: `redis://127.0.0.1:${silent.port}`, publishTimeoutMs: 300, onError: () => {} });
  t.after(() => broker.close());
  const started = Date.now();
  await assert.rejects(broker.publish([message('m', 'post_1', 1, {})]), /did not confirm 1 published message\(s\) within 300 ms/);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 290 && elapsed < 1000, `rejected after ${elapsed} ms`);
  assert.equal(broker.isHealthy(), false);
});

if (REDIS_URL) {
  test('RedisBroker: the subscriber recovers after the server kills its connection', async (t) => {
    const prefix = testPrefix(randomUUID());
    const errors: Error[] = [];
    const node = new RedisBroker({ url: REDIS_URL, prefix, onError: (err) => errors.push(err) });
    const admin = new Redis(REDIS_URL);
    t.after(async () => {
      await node.close();
      await admin.quit();
    });
    const ids = await collectIds(node);
    await until(() => node.isHealthy(), 'node to become healthy');
    await node.publish([message('before', 'post_1', 1, {})]);
    await until(() => ids.includes('before'), 'the message published before the kill');

    const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const line = list.split('\n').find((l) => l.includes(`name=${prefix}sub:${node.instanceId}`));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    assert.ok(id, 'our subscriber is listed');
    assert.equal(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'ID', id), 1);

    await until(() => errors.length > 0, 'the loss to be reported');
    assert.match(errors[0]!.message, /subscriber connection closed; events published until it resubscribes do not reach this node/);
    await until(() => node.isHealthy(), 'node to be healthy again');
    await publishUntilReceived(node, ids);
    assert.equal(errors.length, 1);
  });

  test('RedisBroker: a subscriber that stops answering is detected by the heartbeat and replaced', async (t) => {
    const prefix = testPrefix(randomUUID());
    const proxy = await freezableProxy(new URL(REDIS_URL), t);
    const errors: Error[] = [];
    const behindProxy = new RedisBroker({ url: `redis://127.0.0.1:${proxy.port}`, prefix, heartbeatMs: 100, onError: (err) => errors.push(err) });
    const publisher = new RedisBroker({ url: REDIS_URL, prefix, onError: (err) => errors.push(err) });
    t.after(async () => {
      await Promise.all([behindProxy.close(), publisher.close()]);
    });
    const ids = await collectIds(behindProxy);
    await until(() => behindProxy.isHealthy(), 'broker behind the proxy to become healthy');
    await publishUntilReceived(publisher, ids);

    proxy.freeze();
    await until(() => !behindProxy.isHealthy(), 'the frozen subscriber to be noticed');
    assert.match(errors[0]?.message ?? '', /subscriber did not answer PING within 100 ms, reconnecting/);
    await until(() => behindProxy.isHealthy(), 'the replacement subscriber');
    await publishUntilReceived(publisher, ids);
    assert.equal(errors.length, 1);
  });

  test('RedisBroker: a subscription made while Redis is down takes effect when it comes up', async (t) => {
    const port = await freePort();
    const prefix = testPrefix(randomUUID());
    const errors: Error[] = [];
    const node = new RedisBroker({ url: `redis://127.0.0.1:${port}`, prefix, onError: (err) => errors.push(err) });
    t.after(() => node.close());
    const ids: string[] = [];
    const subscribing = node.subscribe((m) => ids.push(m.id));
    await node.addChannels(['post_1']);
    await until(() => errors.length >= 2, 'both connections to report the refused connection');
    assert.equal(node.isHealthy(), false);

    await freezableProxy(new URL(REDIS_URL), t, port);
    await subscribing;
    await until(() => node.isHealthy(), 'node to become healthy once Redis is reachable');
    await publishUntilReceived(node, ids);
    for (const err of errors) assert.match(err.message, /^redis broker (publisher|subscriber): connect ECONNREFUSED/);
  });

  test('RedisBroker: a payload in another format is reported and skipped', async (t) => {
    const prefix = testPrefix(randomUUID());
    const errors: Error[] = [];
    const node = new RedisBroker({ url: REDIS_URL, prefix, onError: (err) => errors.push(err) });
    const foreign = new Redis(REDIS_URL);
    t.after(async () => {
      await node.close();
      await foreign.quit();
    });
    const ids = await collectIds(node);
    for (const payload of ['{"type":"x"}', '[2,"a","b","c",1]\n{}', '[1,"a","b","c","1"]\n{}', 'not json\n{}']) {
      await foreign.publish(`${prefix}c:post_1`, payload);
    }
    await node.publish([message('good', 'post_1', 1, {})]);
    await until(() => ids.includes('good'), 'the well-formed message');
    assert.deepEqual(ids, ['good']);
    assert.equal(errors.length, 4);
    for (const err of errors) assert.match(err.message, /skipped a payload on .*c:post_1 that is not in format 1/);
  });
}

/** A prefix of its own per test, so concurrent runs and earlier tests cannot interfere. */
function testPrefix(cluster: string): string {
  return `fonana-realtime-test:${cluster}:`;
}

async function collectIds(broker: Broker): Promise<string[]> {
  const ids: string[] = [];
  await broker.subscribe((m: BrokerMessage) => ids.push(m.id));
  await broker.addChannels(['post_1']);
  return ids;
}

/** Publishes probes every 20 ms until one comes back: a resubscription takes a round trip after "ready". */
async function publishUntilReceived(broker: Broker, ids: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  const before = ids.length;
  for (let n = 0; ids.length === before; n++) {
    if (Date.now() > deadline) throw new Error('no probe came back');
    await broker.publish([message(`probe-${randomUUID()}`, 'post_1', n + 1, {})]);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}


/** Listens on a loopback port; the server and every socket it accepted are closed after the test. */
async function listen(server: Server, t: TestContext, port = 0): Promise<{ port: number }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  return { port: (server.address() as AddressInfo).port };
}

/** A TCP proxy to Redis whose existing connections can be frozen (no bytes either way, sockets left open). */
async function freezableProxy(target: URL, t: TestContext, port = 0): Promise<{ port: number; freeze(): void }> {
  const pairs: Array<[Socket, Socket]> = [];
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    pairs.push([client, upstream]);
  });
  await listen(server, t, port);
  t.after(() => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
  });
  return {
    port: (server.address() as AddressInfo).port,
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
  };
}
