import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = 'packages/server/bin/fonana-realtime.js';
const SECRET = 'cli-test-secret-that-is-long-enough-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh DATA_DIR for one test, removed afterwards, so the CLI never writes into the repository. */
async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fonana-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the CLI with exactly `env` (plus PATH and HOME) and collects its output. */
async function cli(args: readonly string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

test('a configuration error exits 2 with one line per problem on stderr', async (t) => {
  const dir = await dataDir(t);
  const run = await cli(['migrate'], { PORT: 'abc', DATA_DIR: dir });
  assert.equal(run.code, 2, run.stderr);
  const problems = lines(run.stderr);
  assert.equal(problems.length, 1, run.stderr);
  assert.match(problems[0]!, /^config error: PORT: must be a whole number/);
  assert.equal(run.stdout, '');
  assert.deepEqual(await readdir(dir), [], 'nothing written before the configuration is valid');
});

test('token prints an HS256 JWT for an existing user, signed with NEXTAUTH_SECRET, with the given ttl', async (t) => {
  const dir = await dataDir(t);
  const seeded = await cli(['seed'], { NEXTAUTH_SECRET: SECRET, DATA_DIR: dir });
  assert.equal(seeded.code, 0, seeded.stderr);
  const before = Math.floor(Date.now() / 1000);
  const run = await cli(['token', 'demo-fan-basic', '--ttl', '120'], { NEXTAUTH_SECRET: SECRET, DATA_DIR: dir });
  const after = Math.floor(Date.now() / 1000);
  assert.equal(run.code, 0, run.stderr);
  const output = lines(run.stdout);
  assert.equal(output.length, 1, run.stdout);
  const parts = output[0]!.split('.');
  assert.equal(parts.length, 3);
  const [header, payload, signature] = parts as [string, string, string];

  assert.deepEqual(decodePart(header), { alg: 'HS256', typ: 'JWT' });
  const claims = decodePart(payload);
  assert.equal(claims.userId, 'demo-fan-basic');
  assert.equal(claims.sub, 'demo-fan-basic');
  assert.equal(typeof claims.exp, 'number');
  const exp = claims.exp as number;
  assert.ok(exp >= before + 120 && exp <= after + 120, `exp ${exp} not within now+120 (${before + 120}..${after + 120})`);
  if (typeof claims.iat === 'number') assert.equal(exp - claims.iat, 120);

  const expected = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
  assert.equal(signature, expected, 'signed with NEXTAUTH_SECRET');
  assert.ok(!(await readdir(dir)).includes('nextauth-secret.dev'), 'no development secret written when NEXTAUTH_SECRET is set');

  // A user the database does not know would be refused at connect: no token is printed.
  const unknown = await cli(['token', 'no-such-user'], { NEXTAUTH_SECRET: SECRET, DATA_DIR: dir });
  assert.equal(unknown.code, 2);
  assert.deepEqual(lines(unknown.stderr), ['token: there is no user "no-such-user" in the database']);
  assert.equal(unknown.stdout, '');
  // Nor one that outlives MAX_TOKEN_TTL.
  const tooLong = await cli(['token', 'demo-fan-basic', '--ttl', '7200'], { NEXTAUTH_SECRET: SECRET, DATA_DIR: dir, MAX_TOKEN_TTL: '3600' });
  assert.equal(tooLong.code, 2);
  assert.deepEqual(lines(tooLong.stderr), ['token: --ttl 7200 is longer than MAX_TOKEN_TTL (3600 s)']);
});

test('token without a user id exits 2 with usage', async (t) => {
  const run = await cli(['token'], { NEXTAUTH_SECRET: SECRET, DATA_DIR: await dataDir(t) });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /usage: fonana-realtime token <userId>/);
  assert.equal(run.stdout, '');
});

test('token with a bad --ttl exits 2', async (t) => {
  const dir = await dataDir(t);
  for (const ttl of ['0', 'soon', '1.5']) {
    const run = await cli(['token', 'user-42', '--ttl', ttl], { NEXTAUTH_SECRET: SECRET, DATA_DIR: dir });
    assert.equal(run.code, 2, ttl);
    assert.match(run.stderr, /--ttl/);
    assert.equal(run.stdout, '');
  }
});

test('an unknown command exits 2 with usage', async (t) => {
  const run = await cli(['frobnicate'], { NEXTAUTH_SECRET: SECRET, DATA_DIR: await dataDir(t) });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /unknown command "frobnicate"/);
  assert.match(run.stderr, /usage: fonana-realtime <command>/);
});

test('no command prints usage and exits 2', async (t) => {
  const run = await cli([], { DATA_DIR: await dataDir(t) });
  assert.equal(run.code, 2);
  assert.match(run.stdout, /usage: fonana-realtime <command>/);
});
