import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addOneMonth, planSubscriptionChange, type SubscriptionFacts } from '../src/domain/index.ts';

const d = (iso: string) => new Date(iso);
const NOW = d('2025-03-10T12:00:00.000Z');
const sub = (plan: string, validUntil: string, extra: Partial<SubscriptionFacts> = {}): SubscriptionFacts => ({
  plan, isActive: true, paymentStatus: 'COMPLETED', validUntil: d(validUntil), ...extra,
});

test('addOneMonth adds a calendar month in UTC and keeps the time of day', () => {
  const cases: Array<[string, string]> = [
    ['2025-03-10T12:00:00.000Z', '2025-04-10T12:00:00.000Z'],
    ['2025-01-15T23:59:59.999Z', '2025-02-15T23:59:59.999Z'],
    ['2025-12-31T08:30:00.000Z', '2026-01-31T08:30:00.000Z'],
    ['2025-02-28T00:00:00.000Z', '2025-03-28T00:00:00.000Z'],
  ];
  for (const [from, to] of cases) assert.equal(addOneMonth(d(from)).toISOString(), to, from);
});

test('addOneMonth clamps the day to the length of the next month', () => {
  const cases: Array<[string, string]> = [
    ['2025-01-31T10:00:00.000Z', '2025-02-28T10:00:00.000Z'],
    ['2024-01-31T10:00:00.000Z', '2024-02-29T10:00:00.000Z'],
    ['2024-01-30T10:00:00.000Z', '2024-02-29T10:00:00.000Z'],
    ['2100-01-29T00:00:00.000Z', '2100-02-28T00:00:00.000Z'],
    ['2025-03-31T06:00:00.000Z', '2025-04-30T06:00:00.000Z'],
    ['2025-05-31T06:00:00.000Z', '2025-06-30T06:00:00.000Z'],
    ['2025-08-31T06:00:00.000Z', '2025-09-30T06:00:00.000Z'],
  ];
  for (const [from, to] of cases) assert.equal(addOneMonth(d(from)).toISOString(), to, from);
});

test('addOneMonth does not mutate its argument and rejects an invalid date', () => {
  const from = d('2025-01-31T10:00:00.000Z');
  addOneMonth(from);
  assert.equal(from.toISOString(), '2025-01-31T10:00:00.000Z');
  assert.throws(() => addOneMonth(new Date(Number.NaN)), RangeError);
});

test('no subscription: new, a month from now', () => {
  assert.deepEqual(planSubscriptionChange(null, 'basic', NOW), {
    kind: 'new', plan: 'basic', previousPlan: null, validUntil: d('2025-04-10T12:00:00.000Z'),
  });
});

test('a row that is not effective is replaced by a new subscription', () => {
  const rows: Array<[string, SubscriptionFacts, string | null]> = [
    ['expired', sub('VIP', '2025-03-10T11:59:59.999Z'), 'vip'],
    ['expiring exactly now', sub('Premium', '2025-03-10T12:00:00.000Z'), 'premium'],
    ['inactive', sub('basic', '2025-05-01T00:00:00.000Z', { isActive: false }), 'basic'],
    ['pending payment', sub('VIP', '2025-05-01T00:00:00.000Z', { paymentStatus: 'PENDING' }), 'vip'],
    ['unknown plan, expired', sub('gold', '2025-01-01T00:00:00.000Z'), null],
  ];
  for (const [name, row, previousPlan] of rows) {
    assert.deepEqual(planSubscriptionChange(row, 'premium', NOW), {
      kind: 'new', plan: 'premium', previousPlan, validUntil: d('2025-04-10T12:00:00.000Z'),
    }, name);
  }
});

test('renewing an expired row of the same plan is new, counted from now', () => {
  const change = planSubscriptionChange(sub('Basic', '2025-02-01T00:00:00.000Z'), 'basic', NOW);
  assert.deepEqual(change, { kind: 'new', plan: 'basic', previousPlan: 'basic', validUntil: d('2025-04-10T12:00:00.000Z') });
});

test('an effective row of the same plan is renewed from its end', () => {
  assert.deepEqual(planSubscriptionChange(sub('VIP', '2025-03-31T09:00:00.000Z'), 'vip', NOW), {
    kind: 'renewal', plan: 'vip', previousPlan: 'vip', validUntil: d('2025-04-30T09:00:00.000Z'),
  });
});

test('an effective lower plan is upgraded at once, keeping the later end', () => {
  assert.deepEqual(planSubscriptionChange(sub('Basic', '2025-03-20T00:00:00.000Z'), 'vip', NOW), {
    kind: 'upgrade', plan: 'vip', previousPlan: 'basic', validUntil: d('2025-04-10T12:00:00.000Z'),
  }, 'old end is earlier than a month from now');
  assert.deepEqual(planSubscriptionChange(sub('basic', '2025-06-01T00:00:00.000Z'), 'premium', NOW), {
    kind: 'upgrade', plan: 'premium', previousPlan: 'basic', validUntil: d('2025-06-01T00:00:00.000Z'),
  }, 'old end is later');
  assert.deepEqual(planSubscriptionChange(sub('Free', '2025-03-11T00:00:00.000Z'), 'basic', NOW), {
    kind: 'upgrade', plan: 'basic', previousPlan: 'free', validUntil: d('2025-04-10T12:00:00.000Z'),
  }, 'from free');
});

test('an effective row with an unknown plan is upgraded, previousPlan null', () => {
  assert.deepEqual(planSubscriptionChange(sub('gold', '2025-04-01T00:00:00.000Z'), 'basic', NOW), {
    kind: 'upgrade', plan: 'basic', previousPlan: null, validUntil: d('2025-04-10T12:00:00.000Z'),
  });
});

test('an effective higher plan is a conflict', () => {
  assert.deepEqual(planSubscriptionChange(sub('VIP', '2025-04-01T00:00:00.000Z'), 'basic', NOW), {
    kind: 'conflict', previousPlan: 'vip', reason: 'an effective vip subscription outranks basic',
  });
  assert.deepEqual(planSubscriptionChange(sub('premium', '2025-04-01T00:00:00.000Z'), 'basic', NOW), {
    kind: 'conflict', previousPlan: 'premium', reason: 'an effective premium subscription outranks basic',
  });
  assert.equal(planSubscriptionChange(sub('Vip', '2025-04-01T00:00:00.000Z'), 'premium', NOW).kind, 'conflict');
});

test('the returned validUntil is never the caller\'s Date object', () => {
  const row = sub('basic', '2025-06-01T00:00:00.000Z');
  const change = planSubscriptionChange(row, 'vip', NOW);
  assert.ok(change.kind === 'upgrade');
  assert.notEqual(change.validUntil, row.validUntil);
});
