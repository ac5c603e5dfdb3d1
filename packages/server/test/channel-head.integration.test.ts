/**
 * Several nodes meeting a channel for the first time at once (three gateways' first subscribers): each must get the
 * channel's head, the same epoch for all. PGlite has one connection and cannot race, so this runs on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureChannelHeads } from '../src/db/history.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';

test('concurrent first reads of channel heads all get the rows, with one epoch per channel', { timeout: 120_000 }, async (t) => {
  const { db } = await createPostgresTestDatabase(t);
  for (let round = 0; round < 40; round++) {
    // Each reader asks for an overlapping batch: one channel all share, one new to it alone, one all share again.
    const shared = [`post_race-${round}-a`, `post_race-${round}-b`];
    const batches = Array.from({ length: 8 }, (_, r) => [shared[0]!, `post_race-${round}-own-${r}`, shared[1]!]);
    const answers = await Promise.all(batches.map((channels) => ensureChannelHeads(db.orm, channels)));
    answers.forEach((heads, r) => assert.deepEqual([...heads.keys()].sort(), [...batches[r]!].sort(), `round ${round}: every channel answered`));
    for (const channel of shared) {
      const heads = answers.map((a) => a.get(channel)!);
      assert.deepEqual(new Set(heads.map((h) => h.offset)), new Set([0]), channel);
      assert.equal(new Set(heads.map((h) => h.epoch)).size, 1, `${channel}: one epoch`);
    }
  }
});
