/**
 * Several nodes meeting a channel for the first time at once (three gateways' first subscribers): each must get the
 * channel's head, the same epoch for all. PGlite has one connection and cannot race, so this runs on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureChannelHead } from '../src/db/history.ts';
import { createPostgresTestDatabase } from './helpers/database.ts';

test('concurrent first reads of a channel head all get the row, with one epoch', { timeout: 120_000 }, async (t) => {
  const { db } = await createPostgresTestDatabase(t);
  for (let round = 0; round < 40; round++) {
    const channel = `post_race-${round}`;
    const heads = await Promise.all(Array.from({ length: 8 }, () => ensureChannelHead(db.orm, channel)));
    assert.deepEqual(new Set(heads.map((h) => h.offset)), new Set([0]), channel);
    assert.equal(new Set(heads.map((h) => h.epoch)).size, 1, `${channel}: one epoch`);
  }
});
