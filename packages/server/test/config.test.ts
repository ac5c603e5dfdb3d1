import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import { readOpenFileLimit } from '../src/config/file-limit.ts';
import { clientAddress } from '../src/config/trusted-proxies.ts';

const SECRET = 'a-perfectly-fine-secret-of-32-chars!';

/** The problem lines loadConfig reports for `env`; fails the test if it does not throw ConfigError. */
function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.message, `invalid configuration:\n${err.problems.join('\n')}`);
    return err.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** Asserts exactly one problem, on `variable`, and returns the line. */
function oneProblem(env: Record<string, string | undefined>, variable: string): string {
  const problems = problemsOf(env);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.ok(problems[0]!.startsWith(`${variable}: `), problems[0]);
  return problems[0]!;
}

test('defaults', () => {
  const config = loadConfig({});
  assert.equal(config.production, false);
  assert.equal(config.port, 3002);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.metricsPort, 9090);
  assert.equal(config.metricsHost, '127.0.0.1');
  assert.equal(config.allowQueryToken, true);
  assert.equal(config.dataDir, './data');
  assert.equal(config.nextAuthSecret, null);
  assert.equal(config.databaseUrl, null);
  assert.equal(config.redisUrl, null);
  assert.equal(config.apiKey, null);
  assert.equal(config.allowedOrigins, null);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.migrateOnStart, true);
  assert.equal(config.limits.maxFrameBytes, 64 * 1024);
  assert.ok(config.timings.heartbeatTimeoutMs > config.timings.heartbeatIntervalMs);
});

test('blank values count as unset', () => {
  const config = loadConfig({ PORT: '', HOST: '  ', NEXTAUTH_SECRET: '', DATABASE_URL: ' ', METRICS_PORT: '   ' });
  assert.equal(config.port, 3002);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.nextAuthSecret, null);
  assert.equal(config.databaseUrl, null);
  assert.equal(config.metricsPort, 9090);
});

test('values are read', () => {
  const config = loadConfig({
    PORT: '4000',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    NEXTAUTH_SECRET: SECRET,
    DATABASE_URL: 'postgres://u:p@db:5432/app',
    REDIS_URL: 'rediss://cache:6380',
    ALLOW_QUERY_TOKEN: 'false',
    ALLOWED_ORIGINS: 'https://a.example, http://localhost:3000',
    LOG_LEVEL: 'debug',
    DATA_DIR: '/var/lib/rt',
    NODE_ENV: 'production',
  });
  assert.equal(config.port, 4000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.metricsPort, 0);
  assert.equal(config.nextAuthSecret, SECRET);
  assert.equal(config.databaseUrl, 'postgres://u:p@db:5432/app');
  assert.equal(config.redisUrl, 'rediss://cache:6380');
  assert.equal(config.allowQueryToken, false);
  assert.deepEqual(config.allowedOrigins, ['https://a.example', 'http://localhost:3000']);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.dataDir, '/var/lib/rt');
  assert.equal(config.production, true);
});

test('booleans accept true/false, 1/0, yes/no', () => {
  for (const [text, value] of [['true', true], ['1', true], ['yes', true], ['false', false], ['0', false], ['no', false]] as const) {
    assert.equal(loadConfig({ ALLOW_QUERY_TOKEN: text }).allowQueryToken, value, text);
  }
});

test('WS_PORT is an alias of PORT', () => {
  assert.equal(loadConfig({ WS_PORT: '4100' }).port, 4100);
  assert.equal(loadConfig({ PORT: '4100', WS_PORT: '4100' }).port, 4100);
  const line = oneProblem({ PORT: '4100', WS_PORT: '4200' }, 'PORT');
  assert.match(line, /WS_PORT/);
  assert.match(line, /4100/);
  assert.match(line, /4200/);
});

test('ports must be whole decimal numbers in range', () => {
  for (const value of ['abc', '3.5', '-1', '65536', '1e3', '0x10', '30 02']) {
    const line = oneProblem({ PORT: value }, 'PORT');
    assert.match(line, /^PORT: must be a whole number from 0 to 65535/, value);
  }
  oneProblem({ WS_PORT: 'x' }, 'WS_PORT');
  oneProblem({ METRICS_PORT: '99999' }, 'METRICS_PORT');
  assert.equal(loadConfig({ PORT: ' 4000 ' }).port, 4000);
});

test('every invalid value yields a line starting with the variable name', () => {
  const cases: [string, string][] = [
    ['DATABASE_URL', 'mysql://u:p@h/db'],
    ['DATABASE_URL', 'not a url'],
    ['REDIS_URL', 'http://cache:6379'],
    ['REDIS_URL', 'cache:6379 '],
    ['ALLOW_QUERY_TOKEN', 'maybe'],
    ['MIGRATE_ON_START', 'TRUE!'],
    ['LOG_LEVEL', 'loud'],
    ['NEXTAUTH_SECRET', 'shortsecretvalue'],
    ['REALTIME_API_KEY', 'short'],
    ['PAYMENT_WEBHOOK_SECRET', 'tiny'],
    ['ALLOWED_ORIGINS', 'example.com'],
    ['ALLOWED_ORIGINS', 'https://ok.example,https://with.path/x'],
    ['MAX_FRAME_BYTES', '10'],
    ['AUTH_TIMEOUT_MS', 'soon'],
  ];
  for (const [variable, value] of cases) oneProblem({ [variable]: value }, variable);
});

test('messages say what is expected', () => {
  assert.equal(oneProblem({ NEXTAUTH_SECRET: 'shortsecretvalue' }, 'NEXTAUTH_SECRET'), 'NEXTAUTH_SECRET: must be at least 32 characters');
  assert.equal(oneProblem({ REALTIME_API_KEY: 'short' }, 'REALTIME_API_KEY'), 'REALTIME_API_KEY: must be at least 16 characters');
  assert.match(oneProblem({ DATABASE_URL: 'mysql://h/db' }, 'DATABASE_URL'), /postgres:\/\//);
  assert.match(oneProblem({ REDIS_URL: 'http://h' }, 'REDIS_URL'), /redis:\/\//);
  assert.match(oneProblem({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'), /info/);
  assert.match(oneProblem({ ALLOWED_ORIGINS: 'example.com' }, 'ALLOWED_ORIGINS'), /"example\.com"/);
});

test('each bad origin is its own line', () => {
  const problems = problemsOf({ ALLOWED_ORIGINS: 'a.example, https://ok.example, b.example' });
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.ok(problems.every((line) => line.startsWith('ALLOWED_ORIGINS: ')));
});

test('HEARTBEAT_TIMEOUT_MS must exceed HEARTBEAT_INTERVAL_MS', () => {
  oneProblem({ HEARTBEAT_INTERVAL_MS: '30000', HEARTBEAT_TIMEOUT_MS: '30000' }, 'HEARTBEAT_TIMEOUT_MS');
});

test('several problems are reported together', () => {
  const problems = problemsOf({
    PORT: 'abc',
    LOG_LEVEL: 'loud',
    REDIS_URL: 'http://cache',
    NEXTAUTH_SECRET: 'shortsecretvalue',
    ALLOWED_ORIGINS: 'example.com',
  });
  const variables = problems.map((line) => line.slice(0, line.indexOf(':'))).sort();
  assert.deepEqual(variables, ['ALLOWED_ORIGINS', 'LOG_LEVEL', 'NEXTAUTH_SECRET', 'PORT', 'REDIS_URL']);
});

test('NODE_ENV=production requires NEXTAUTH_SECRET', () => {
  const line = oneProblem({ NODE_ENV: 'production' }, 'NEXTAUTH_SECRET');
  assert.match(line, /production/);
  oneProblem({ NODE_ENV: 'production', NEXTAUTH_SECRET: '   ' }, 'NEXTAUTH_SECRET');
  oneProblem({ NODE_ENV: 'production', NEXTAUTH_SECRET: 'shortsecretvalue' }, 'NEXTAUTH_SECRET');
  // Reported together with unrelated problems.
  const problems = problemsOf({ NODE_ENV: 'production', PORT: 'abc' });
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.equal(loadConfig({ NODE_ENV: 'production', NEXTAUTH_SECRET: SECRET }).production, true);
  // Development works without one (the CLI generates a dev secret).
  assert.equal(loadConfig({ NODE_ENV: 'development' }).nextAuthSecret, null);
});

test('no problem line contains the value of a secret variable', () => {
  const secrets: Record<string, string> = {
    NEXTAUTH_SECRET: 'shortsecretvalue',
    REALTIME_API_KEY: 'key-xyz-123',
    PAYMENT_WEBHOOK_SECRET: 'whsec-abc-99',
    DATABASE_URL: 'mysql://admin:hunter2pass@db/app',
    REDIS_URL: 'http://default:redispass77@cache:6379',
  };
  const problems = problemsOf({ ...secrets, PORT: 'abc' });
  assert.equal(problems.length, 6, problems.join('\n'));
  const text = problems.join('\n');
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(!text.includes(value), `${name}'s value appears in: ${text}`);
  }
  for (const password of ['hunter2pass', 'redispass77']) assert.ok(!text.includes(password));
  // Also in production, where the secret is required.
  const prod = problemsOf({ NODE_ENV: 'production', NEXTAUTH_SECRET: 'shortsecretvalue' }).join('\n');
  assert.ok(!prod.includes('shortsecretvalue'));
});

test('MAX_CONNECTIONS defaults below the open-file limit, keeping a reserve', () => {
  assert.equal(loadConfig({}, { openFileLimit: 20_000 }).limits.maxConnections, 20_000 - 1024);
  assert.equal(loadConfig({}, { openFileLimit: 1024 }).limits.maxConnections, 768);
  assert.equal(loadConfig({}, { openFileLimit: null }).limits.maxConnections, 10_000);
  assert.equal(loadConfig({ MAX_CONNECTIONS: '50' }, { openFileLimit: 20_000 }).limits.maxConnections, 50);
  const limit = readOpenFileLimit();
  assert.ok(limit === null || (Number.isInteger(limit) && limit > 0), String(limit));
  assert.ok(loadConfig({}).limits.maxConnections < (limit ?? Infinity), 'the real default is below the real limit');
});

test('readOpenFileLimit reads the soft limit of "Max open files"', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'limits-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'limits');
  await writeFile(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n');
  assert.equal(readOpenFileLimit(file), 4096);
  assert.equal(readOpenFileLimit(join(dir, 'missing')), null);
});

test('per-address limits, timeouts and MAX_TOKEN_TTL have safe defaults and are read', () => {
  const config = loadConfig({});
  assert.deepEqual(
    [config.limits.maxSocketsPerAddress, config.limits.maxUnauthenticatedPerAddress, config.limits.maxConnectRatePerAddress],
    [1000, 50, 50],
  );
  assert.deepEqual(config.database, { connectTimeoutMs: 3000, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10_000 });
  assert.equal(config.timings.headersTimeoutMs, 10_000);
  assert.equal(config.maxTokenTtlSeconds, null);
  assert.equal(config.trustedProxies, null);
  const set = loadConfig({
    MAX_SOCKETS_PER_ADDRESS: '10',
    MAX_UNAUTHENTICATED_PER_ADDRESS: '3',
    MAX_CONNECT_RATE_PER_ADDRESS: '5',
    DB_CONNECT_TIMEOUT_MS: '1000',
    DB_STATEMENT_TIMEOUT_MS: '2000',
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '3000',
    HEADERS_TIMEOUT_MS: '500',
    MAX_TOKEN_TTL: '3600',
  });
  assert.deepEqual(
    [set.limits.maxSocketsPerAddress, set.limits.maxUnauthenticatedPerAddress, set.limits.maxConnectRatePerAddress],
    [10, 3, 5],
  );
  assert.deepEqual(set.database, { connectTimeoutMs: 1000, statementTimeoutMs: 2000, idleInTransactionTimeoutMs: 3000 });
  assert.equal(set.timings.headersTimeoutMs, 500);
  assert.equal(set.maxTokenTtlSeconds, 3600);
  for (const variable of ['MAX_SOCKETS_PER_ADDRESS', 'MAX_CONNECT_RATE_PER_ADDRESS', 'MAX_TOKEN_TTL', 'DB_STATEMENT_TIMEOUT_MS']) {
    oneProblem({ [variable]: '0' }, variable);
  }
});

test('TRUSTED_PROXIES takes addresses and CIDRs; X-Forwarded-For counts only from them', () => {
  const proxies = loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1, fd00::/8' }).trustedProxies!;
  assert.equal(proxies.has('10.1.2.3'), true);
  assert.equal(proxies.has('::ffff:10.1.2.3'), true, 'IPv4-mapped');
  assert.equal(proxies.has('127.0.0.1'), true);
  assert.equal(proxies.has('127.0.0.2'), false);
  assert.equal(proxies.has('fd12::1'), true);
  assert.equal(proxies.has('2001:db8::1'), false);
  assert.equal(clientAddress('10.0.0.5', '203.0.113.9', proxies), '203.0.113.9');
  assert.equal(clientAddress('10.0.0.5', '6.6.6.6, 203.0.113.9, 10.0.0.7', proxies), '203.0.113.9', 'right-most untrusted hop');
  assert.equal(clientAddress('198.51.100.1', '203.0.113.9', proxies), '198.51.100.1', 'an untrusted peer is the client');
  assert.equal(clientAddress('::ffff:198.51.100.1', undefined, null), '198.51.100.1');
  assert.equal(clientAddress('10.0.0.5', 'garbage', proxies), '10.0.0.5');
  for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/8/1', '::1/129']) {
    assert.match(oneProblem({ TRUSTED_PROXIES: bad }, 'TRUSTED_PROXIES'), /not an IP address or CIDR/, bad);
  }
});

test('WORKERS: default 1, a whole number from 1 to 64, or auto (the cores, at most 64)', async () => {
  assert.equal(loadConfig({}).workers, 1);
  assert.equal(loadConfig({ WORKERS: '' }).workers, 1);
  assert.equal(loadConfig({ WORKERS: ' 4 ' }).workers, 4);
  const { availableParallelism } = await import('node:os');
  assert.equal(loadConfig({ WORKERS: 'auto' }).workers, Math.min(64, availableParallelism()));
  for (const value of ['0', '65', '-2', '1.5', 'two', '0x2']) {
    assert.match(oneProblem({ WORKERS: value }, 'WORKERS'), /^WORKERS: must be a whole number from 1 to 64 or "auto"/, value);
  }
});
