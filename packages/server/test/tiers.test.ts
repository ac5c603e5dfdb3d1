import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TIER_PRICES, normalizeTier, PaidTiers, TIER_RANK, tierRank, Tiers } from '../src/domain/index.ts';

test('tiers are listed lowest first with ranks 1..4', () => {
  assert.deepEqual([...Tiers], ['free', 'basic', 'premium', 'vip']);
  assert.deepEqual([...PaidTiers], ['basic', 'premium', 'vip']);
  assert.deepEqual({ ...TIER_RANK }, { free: 1, basic: 2, premium: 3, vip: 4 });
  assert.ok(Object.isFrozen(TIER_RANK));
});

test('normalizeTier ignores case and surrounding whitespace', () => {
  const cases: Array<[string, string]> = [
    ['Free', 'free'], ['free', 'free'], ['BASIC', 'basic'], ['Basic', 'basic'], [' premium ', 'premium'],
    ['Premium', 'premium'], ['VIP', 'vip'], ['vIp', 'vip'], ['\tvip\n', 'vip'],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeTier(input), expected, JSON.stringify(input));
});

test('normalizeTier returns null for unknown names, blanks and non-strings', () => {
  for (const input of ['gold', '', '   ', 'v i p', 'vip+', 'premium2', null, undefined, 4, true, {}, ['vip']]) {
    assert.equal(normalizeTier(input), null, JSON.stringify(input));
  }
});

test('tierRank ranks known names and gives 0 to anything else', () => {
  assert.equal(tierRank('Free'), 1);
  assert.equal(tierRank('basic'), 2);
  assert.equal(tierRank(' PREMIUM'), 3);
  assert.equal(tierRank('VIP'), 4);
  for (const input of ['gold', '', null, undefined, 3]) assert.equal(tierRank(input), 0, JSON.stringify(input));
});

test('default tier prices are in SOL', () => {
  assert.deepEqual({ ...DEFAULT_TIER_PRICES }, { basic: 0.05, premium: 0.15, vip: 0.35 });
});
