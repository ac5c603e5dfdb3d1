import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchedLookup } from '../src/cache/batched-lookup.ts';

/** A loader over a fixed table that records each batch, and can be held so a test acts while a load is in flight. */
function tableLoader(table: Record<string, number>) {
  const batches: string[][] = [];
  let hold: Promise<void> | null = null;
  const load = async (ids: string[]) => {
    batches.push(ids);
    if (hold) await hold;
    return new Map(ids.filter((id) => id in table).map((id) => [id, table[id]!]));
  };
  const holdNext = () => {
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    return () => {
      hold = null;
      release();
    };
  };
  return { load, batches, holdNext };
}

test('ids asked in one turn load together, in batches of maxBatch; found ones are remembered, missing ones never', async () => {
  const { load, batches } = tableLoader({ a: 1, b: 2, c: 3 });
  const lookup = new BatchedLookup(load, { ttlMs: 60_000, maxEntries: 100, maxBatch: 2 });
  assert.deepEqual(await Promise.all(['a', 'b', 'c', 'x', 'a'].map((id) => lookup.get(id))), [1, 2, 3, undefined, 1]);
  assert.deepEqual(batches, [['a', 'b'], ['c', 'x']]);
  assert.equal(lookup.size, 3);
  assert.deepEqual(await Promise.all(['a', 'b', 'c', 'x'].map((id) => lookup.get(id))), [1, 2, 3, undefined]);
  assert.deepEqual(batches.slice(2), [['x']], 'only the missing id loads again');
});

test('a load in flight during an invalidation answers but remembers nothing; the next lookup loads', async () => {
  const { load, batches, holdNext } = tableLoader({ a: 1 });
  const lookup = new BatchedLookup(load, { ttlMs: 60_000, maxEntries: 100 });
  const release = holdNext();
  const pending = lookup.get('a');
  await new Promise((resolve) => setImmediate(resolve));
  lookup.invalidate('a');
  release();
  assert.equal(await pending, 1);
  assert.equal(lookup.size, 0, 'not remembered');
  assert.equal(await lookup.get('a'), 1);
  assert.equal(batches.length, 2);
  assert.equal(lookup.size, 1);
  lookup.invalidate('a');
  assert.equal(lookup.size, 0, 'forgotten at once');
});

test('bounded (oldest dropped first), TTL 0 always loads, and a failed load rejects every waiting lookup', async () => {
  const { load, batches } = tableLoader({ a: 1, b: 2, c: 3 });
  const small = new BatchedLookup(load, { ttlMs: 60_000, maxEntries: 2 });
  await Promise.all(['a', 'b', 'c'].map((id) => small.get(id)));
  assert.equal(small.size, 2);
  batches.length = 0;
  await small.get('a');
  assert.deepEqual(batches, [['a']], 'the oldest (a) was dropped');

  const never = new BatchedLookup(load, { ttlMs: 0, maxEntries: 10 });
  await never.get('a');
  await never.get('a');
  assert.equal(never.size, 0);

  const failing = new BatchedLookup<number>(async () => Promise.reject(new Error('down')), { ttlMs: 60_000, maxEntries: 10 });
  const results = await Promise.allSettled([failing.get('a'), failing.get('b')]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
});

test('maxInFlight: ids asked while a load runs wait and go together in the next load, never in the running one', async () => {
  const { load, batches, holdNext } = tableLoader({ a: 1, b: 2, c: 3 });
  const lookup = new BatchedLookup(load, { ttlMs: 0, maxEntries: 0, maxInFlight: 1 });
  const release = holdNext();
  const first = lookup.get('a');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(batches, [['a']], 'the first load started');
  // Asked in later turns while that load is held: no load of their own yet.
  const again = lookup.get('a');
  await new Promise((resolve) => setImmediate(resolve));
  const others = [lookup.get('b'), lookup.get('c'), lookup.get('x')];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(batches, [['a']], 'nothing more loads while one is in flight');
  release();
  assert.equal(await first, 1);
  assert.deepEqual(await Promise.all([again, ...others]), [1, 2, 3, undefined]);
  assert.deepEqual(batches, [['a'], ['a', 'b', 'c', 'x']], "'a' asked during the first load is read again, with the rest");

  // Without the limit, each turn's ids load at once, beside a load in flight.
  const { load: load2, batches: batches2, holdNext: holdNext2 } = tableLoader({ a: 1, b: 2 });
  const unbounded = new BatchedLookup(load2, { ttlMs: 0, maxEntries: 0 });
  const release2 = holdNext2();
  const p1 = unbounded.get('a');
  await new Promise((resolve) => setImmediate(resolve));
  const p2 = unbounded.get('b');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(batches2, [['a'], ['b']]);
  release2();
  assert.deepEqual(await Promise.all([p1, p2]), [1, 2]);
});

test('maxInFlight: a failed load rejects its own lookups and the waiting ones still load', async () => {
  let calls = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const lookup = new BatchedLookup<number>(
    async (ids) => {
      calls++;
      if (calls === 1) {
        await held;
        throw new Error('down');
      }
      return new Map(ids.map((id) => [id, id.length]));
    },
    { ttlMs: 0, maxEntries: 0, maxInFlight: 1 },
  );
  const failing = lookup.get('a');
  await new Promise((resolve) => setImmediate(resolve));
  const waiting = lookup.get('bb');
  await new Promise((resolve) => setImmediate(resolve));
  release();
  await assert.rejects(failing, /down/);
  assert.equal(await waiting, 2);
  assert.equal(calls, 2);
});
