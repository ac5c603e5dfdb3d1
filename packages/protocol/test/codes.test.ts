import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { CLOSE_NORMAL, Codes, codeRow, shouldReconnect, type CodeRow } from '../src/codes.ts';

const rows = Object.entries(Codes) as [string, CodeRow][];

/** RFC 6455 codes a server may put in a close frame (ws's isValidStatusCode minus the client-only ones we never use). */
const RFC_SENDABLE = new Set([1000, 1001, 1008, 1009, 1011, 1012, 1013]);

/**
 * Codes that lead with the problem rather than the subject. They are on the wire already and codes are never
 * renamed, so they stay; the list is frozen so that every new code is subject-first (`GW_ERR_PAYLOAD_TOO_LARGE`).
 */
const GRANDFATHERED_PROBLEM_FIRST = new Set([
  'GW_ERR_TOO_MANY_CONNECTIONS',
  'GW_ERR_SLOW_CONSUMER',
  'GW_ERR_BAD_FRAME',
  'GW_ERR_UNKNOWN_TYPE',
  'GW_ERR_INVALID_FIELD',
  'GW_ERR_UNKNOWN_CHANNEL',
  'GW_ERR_TOO_MANY_CHANNELS',
  'GW_ERR_BINARY_FRAME',
  'GW_ERR_BAD_REQUEST',
  'GW_ERR_NOT_FOUND',
  'GW_ERR_NOT_READY',
]);
const PROBLEM_WORDS = /^GW_ERR_(TOO_|BAD_|UNKNOWN_|INVALID_|MISSING_|NOT_|NO_|SLOW_|BINARY_|WRONG_|FAILED_)/;

test('the table has rows', () => {
  assert.ok(rows.length >= 20, `only ${rows.length} rows`);
});

test('code names are unique, GW_ERR_ SCREAMING_SNAKE', () => {
  const names = rows.map(([name]) => name);
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.match(name, /^GW_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*$/, name);
});

test('new code names put the subject before the problem', () => {
  const problemFirst = rows.map(([name]) => name).filter((name) => PROBLEM_WORDS.test(name));
  assert.deepEqual(problemFirst.filter((name) => !GRANDFATHERED_PROBLEM_FIRST.has(name)), []);
  // Families share their subject as the first word.
  for (const [name] of rows) {
    for (const subject of ['AUTH', 'API', 'PAYMENT', 'CHANNEL']) {
      const words = name.slice('GW_ERR_'.length).split('_');
      if (words.includes(subject) && !GRANDFATHERED_PROBLEM_FIRST.has(name)) assert.equal(words[0], subject, name);
    }
  }
});

test('close codes are null, an RFC 6455 code a server may send, or 4000-4999', () => {
  for (const [name, row] of rows) {
    if (row.close === null) continue;
    assert.ok(Number.isInteger(row.close), name);
    assert.ok(RFC_SENDABLE.has(row.close) || (row.close >= 4000 && row.close <= 4999), `${name}: close ${row.close}`);
  }
});

test('reasons fit a close frame (at most 123 bytes of UTF-8) and are not empty', () => {
  for (const [name, row] of rows) {
    assert.ok(row.reason.length > 0, name);
    assert.ok(Buffer.byteLength(row.reason, 'utf8') <= 123, `${name}: ${Buffer.byteLength(row.reason)} bytes`);
  }
});

test('http statuses are 400-599', () => {
  for (const [name, row] of rows) {
    assert.ok(Number.isInteger(row.http) && row.http >= 400 && row.http <= 599, `${name}: http ${row.http}`);
  }
});

test('the reconnect flag of a close row agrees with shouldReconnect', () => {
  for (const [name, row] of rows) {
    if (row.close === null) assert.equal(row.reconnect, false, `${name}: error frames do not close`);
    else assert.equal(row.reconnect, shouldReconnect(row.close), name);
  }
});

test('shouldReconnect', () => {
  assert.equal(CLOSE_NORMAL, 1000);
  assert.equal(shouldReconnect(1000), false);
  assert.equal(shouldReconnect(1012), true);
  assert.equal(shouldReconnect(4001), true);
  assert.equal(shouldReconnect(4600), false);
  assert.equal(shouldReconnect(1008), false);
  assert.equal(shouldReconnect(4321), true, 'unseen 4000-4499 code');
  assert.equal(shouldReconnect(4499), true);
  assert.equal(shouldReconnect(4500), false);
  assert.equal(shouldReconnect(4999), false);
  assert.equal(shouldReconnect(1006), true, 'abnormal closure (network drop)');
  assert.equal(shouldReconnect(1002), false);
});

test('codeRow finds own codes only', () => {
  assert.deepEqual(codeRow('GW_ERR_AUTH_EXPIRED'), Codes.GW_ERR_AUTH_EXPIRED);
  assert.equal(codeRow('GW_ERR_NOPE'), undefined);
  assert.equal(codeRow('toString'), undefined);
  assert.equal(codeRow('__proto__'), undefined);
});

interface DocRow {
  close: number | null;
  http: number;
  reason: string;
  reconnect: string;
}

/** Rows of the table in docs/errors.md: | `CODE` | close or "error frame" | http | reason | reconnect |. */
async function docRows(): Promise<Map<string, DocRow>> {
  const text = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const out = new Map<string, DocRow>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const code = /^`(GW_ERR_[A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1];
    if (!code) continue;
    assert.equal(cells.length, 5, `docs/errors.md: row of ${code} has ${cells.length} cells`);
    assert.ok(!out.has(code), `docs/errors.md lists ${code} twice`);
    const [, close = '', http = '', reason = '', reconnect = ''] = cells;
    out.set(code, {
      close: close === 'error frame' ? null : Number(close),
      http: Number(http),
      reason,
      reconnect,
    });
  }
  return out;
}

test('docs/errors.md lists exactly the codes of the table, with the same values', async () => {
  const docs = await docRows();
  assert.deepEqual([...docs.keys()].sort(), rows.map(([name]) => name).sort());
  for (const [name, row] of rows) {
    const doc = docs.get(name)!;
    assert.equal(doc.close, row.close, `${name}: close`);
    assert.equal(doc.http, row.http, `${name}: http`);
    assert.equal(doc.reason, row.reason, `${name}: reason`);
    assert.equal(doc.reconnect, row.close === null ? '–' : row.reconnect ? 'yes' : 'no', `${name}: reconnect`);
  }
});
