/**
 * Broker fan-in micro-benchmark: one node publishes N small event frames, in batches awaited one after the
 * other as the outbox relay does, until a second node's subscriber has received all of them.
 *
 *   node --import tsx bench/broker-fanin.ts                                  # MemoryBroker only
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/broker-fanin.ts  # and RedisBroker
 *
 * Prints one markdown row per broker and batch size (median of 5 runs after a warm-up run) and the
 * memory/Redis ratio.
 */
import { randomUUID } from 'node:crypto';
import { MemoryBroker, RedisBroker, type Broker, type BrokerMessage } from '../packages/server/src/broker/index.ts';

const N = 20_000;
/** 1: a relay that publishes row by row; 500: the relay's batch size. */
const BATCH_SIZES = [1, 100, 500];
const RUNS = 5;

interface Pair {
  publisher: Broker;
  subscriber: Broker;
}

type PairFactory = () => Pair;

function memoryPair(): Pair {
  const publisher = new MemoryBroker();
  return { publisher, subscriber: new MemoryBroker({ peer: publisher }) };
}

function redisPair(url: string): PairFactory {
  return () => {
    const prefix = `fonana-realtime-bench:${randomUUID()}:`;
    const onError = (err: Error): void => console.error(err.message);
    return { publisher: new RedisBroker({ url, prefix, onError }), subscriber: new RedisBroker({ url, prefix, onError }) };
  };
}

/** Small frames as the relay encodes them (about 150 bytes each). */
function makeMessages(): BrokerMessage[] {
  return Array.from({ length: N }, (_, i) => {
    const id = randomUUID();
    const channel = `user_${i % 100}`;
    const type = 'notification';
    const offset = Math.floor(i / 100) + 1;
    return { id, channel, type, offset, encoded: JSON.stringify({ type, id, channel, offset, ts: Date.now(), data: { n: i } }) };
  });
}

/** Messages per second for one run: from the first publish until the subscriber has all N. */
async function run(makePair: PairFactory, messages: readonly BrokerMessage[], batchSize: number): Promise<number> {
  const { publisher, subscriber } = makePair();
  let received = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  await subscriber.subscribe(() => {
    if (++received === messages.length) done();
  });
  await subscriber.addChannels([...new Set(messages.map((m) => m.channel))]);
  const started = process.hrtime.bigint();
  for (let i = 0; i < messages.length; i += batchSize) await publisher.publish(messages.slice(i, i + batchSize));
  await all;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all([publisher.close(), subscriber.close()]);
  return messages.length / seconds;
}

async function median(makePair: PairFactory, messages: readonly BrokerMessage[], batchSize: number): Promise<number> {
  await run(makePair, messages, batchSize);
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) rates.push(await run(makePair, messages, batchSize));
  rates.sort((a, b) => a - b);
  return rates[Math.floor(RUNS / 2)]!;
}

function format(rate: number): string {
  return Math.round(rate).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const messages = makeMessages();
  const redisUrl = process.env.REDIS_URL;
  console.log(`N=${N} messages, median of ${RUNS} runs, Node ${process.version}${redisUrl ? `, Redis at ${redisUrl}` : ', no REDIS_URL'}`);
  console.log('');
  console.log('| batch size | MemoryBroker msg/s | RedisBroker msg/s | memory / Redis |');
  console.log('|---:|---:|---:|---:|');
  for (const batchSize of BATCH_SIZES) {
    const memory = await median(memoryPair, messages, batchSize);
    const redis = redisUrl ? await median(redisPair(redisUrl), messages, batchSize) : null;
    const ratio = redis === null ? 'n/a' : `${(memory / redis).toFixed(1)}×`;
    console.log(`| ${batchSize} | ${format(memory)} | ${redis === null ? 'n/a' : format(redis)} | ${ratio} |`);
  }
}

await main();
