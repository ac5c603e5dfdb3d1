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
