import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SmallSet } from '../src/gateway/small-set.ts';

test('a small set holds one member in a field, grows into a Set and shrinks back, keeping set semantics', () => {
  const set = new SmallSet<string>();
  assert.equal(set.size, 0);
  assert.deepEqual([...set], []);
  assert.equal(set.delete('a'), false);

  set.add('a');
  set.add('a');
  assert.equal(set.size, 1);
  assert.deepEqual([...set], ['a']);
  assert.equal(set.delete('z'), false, 'not the one member');
  assert.equal(set.size, 1);

  set.add('b');
  set.add('c');
  set.add('b');
  assert.equal(set.size, 3);
  assert.deepEqual([...set], ['a', 'b', 'c'], 'insertion order');

  assert.equal(set.delete('x'), false);
  assert.equal(set.delete('a'), true);
  assert.equal(set.delete('c'), true);
  assert.equal(set.size, 1, 'back to one member');
  assert.deepEqual([...set], ['b']);

  set.add('d');
  assert.deepEqual([...set], ['b', 'd']);
  assert.equal(set.delete('b'), true);
  assert.equal(set.delete('d'), true);
  assert.equal(set.delete('d'), false);
  assert.equal(set.size, 0);
  assert.deepEqual([...set], []);
});

test('iterating while members leave sees a consistent snapshot when copied first (as the hub does)', () => {
  const set = new SmallSet<number>();
  for (const n of [1, 2, 3]) set.add(n);
  const seen: number[] = [];
  for (const n of [...set]) {
    seen.push(n);
    set.delete(n);
  }
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(set.size, 0);
});
