import assert from 'node:assert/strict';
import { test } from 'node:test';
import { amountsMatch, tierPrice, toLamports } from '../src/domain/index.ts';

const row = (basicTier: unknown, premiumTier: unknown = null, vipTier: unknown = null) => ({ basicTier, premiumTier, vipTier });

test('no settings row: every paid tier is enabled at its default price', () => {
  assert.deepEqual(tierPrice(null, 'basic'), { enabled: true, price: 0.05 });
  assert.deepEqual(tierPrice(null, 'premium'), { enabled: true, price: 0.15 });
  assert.deepEqual(tierPrice(null, 'vip'), { enabled: true, price: 0.35 });
});

test('reads the column of the requested tier', () => {
  const settings = row(
    { enabled: true, price: 0.1, description: 'b', features: [] },
    { enabled: false, price: 0.2 },
    { price: 1.5, features: [{ id: 'x', text: 'y', enabled: true }] },
  );
  assert.deepEqual(tierPrice(settings, 'basic'), { enabled: true, price: 0.1 });
  assert.deepEqual(tierPrice(settings, 'premium'), { enabled: false, price: 0.2 });
  assert.deepEqual(tierPrice(settings, 'vip'), { enabled: true, price: 1.5 });
});

test('enabled is true when absent or null, and only true otherwise', () => {
  assert.equal(tierPrice(row({ price: 0.1 }), 'basic').enabled, true);
  assert.equal(tierPrice(row({ enabled: null, price: 0.1 }), 'basic').enabled, true);
  assert.equal(tierPrice(row({ enabled: true }), 'basic').enabled, true);
  for (const enabled of [false, 'true', 'false', 1, 0]) {
    assert.equal(tierPrice(row({ enabled, price: 0.1 }), 'basic').enabled, false, JSON.stringify(enabled));
  }
});

test('a missing or invalid price falls back to the default', () => {
  for (const price of [undefined, null, 0, -0.1, Number.NaN, Number.POSITIVE_INFINITY, '0.2', {}]) {
    assert.deepEqual(tierPrice(row(null, { enabled: true, price }), 'premium'), { enabled: true, price: 0.15 }, String(price));
  }
});

test('a column that is not an object means enabled at the default price', () => {
  for (const column of [null, undefined, 'x', 3, true]) {
    assert.deepEqual(tierPrice(row(null, null, column), 'vip'), { enabled: true, price: 0.35 }, String(column));
  }
});

test('toLamports rounds to the nearest lamport', () => {
  assert.equal(toLamports(1), 1_000_000_000);
  assert.equal(toLamports(0.05), 50_000_000);
  assert.equal(toLamports(0.1 + 0.2), 300_000_000);
  assert.equal(toLamports(0.0000000014), 1);
  assert.equal(toLamports(0), 0);
});

test('amountsMatch compares in lamports', () => {
  assert.equal(amountsMatch(0.1 + 0.2, 0.3), true);
  assert.equal(amountsMatch(0.15, 0.15), true);
  assert.equal(amountsMatch(0.15, 0.150000001), false);
  assert.equal(amountsMatch(0.05, 0.15), false);
  assert.equal(amountsMatch(0.1500000001, 0.15), true, 'below half a lamport');
});

test('amountsMatch is false for non-finite input', () => {
  const bad = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const x of bad) {
    assert.equal(amountsMatch(x, 0.1), false);
    assert.equal(amountsMatch(0.1, x), false);
    assert.equal(amountsMatch(x, x), false);
  }
});
