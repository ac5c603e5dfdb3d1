/**
 * Environment → typed configuration. Every value is validated; all problems are collected and reported
 * together, one line each, naming the variable (the CLI prints them and exits with code 2).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { readOpenFileLimit } from './file-limit.ts';
import { parseTrustedProxies, type TrustedProxies } from './trusted-proxies.ts';

export interface Config {
  readonly production: boolean;
  /** HS256 key for user tokens; null in development means "generate one and keep it in dataDir". */
  readonly nextAuthSecret: string | null;
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  readonly metricsPort: number;
  readonly metricsHost: string;
  readonly apiKey: string | null;
  readonly paymentWebhookSecret: string | null;
  readonly jwtIssuer: string | null;
  readonly jwtAudience: string | null;
  readonly allowQueryToken: boolean;
  readonly allowedOrigins: readonly string[] | null;
  /** Accept a NextAuth v4 session cookie on the upgrade request (requires allowedOrigins). */
  readonly acceptSessionCookie: boolean;
  readonly redisUrl: string | null;
  /** Prefix of the Redis keys and pub/sub channels, so several deployments can share one Redis. */
  readonly redisPrefix: string;
  readonly logLevel: string;
  readonly migrateOnStart: boolean;
  /** Peers whose `X-Forwarded-For` names the client address; null: trust no one, the peer is the client. */
  readonly trustedProxies: TrustedProxies | null;
  /** Longest accepted token lifetime (`exp` − `iat`) in seconds; null: no bound. */
  readonly maxTokenTtlSeconds: number | null;
  readonly limits: Limits;
  readonly database: DatabaseTimeouts;
  readonly timings: Timings;
  readonly outbox: OutboxSettings;
  /** Processes `serve` runs on the one port (node:cluster); 1: this process alone, no cluster. */
  readonly workers: number;
}

export interface Limits {
  /** Largest client frame in bytes; a larger one closes the socket with 1009. */
  readonly maxFrameBytes: number;
  readonly maxSocketsPerUser: number;
  readonly maxChannelsPerSocket: number;
  /** Bytes queued for one socket before it is closed as a slow consumer (4009). */
  readonly maxBufferedBytes: number;
  /** Frames waiting for processing on one socket (before and after authentication) before it is closed (4010). */
  readonly maxQueuedFrames: number;
  /** Sockets per process; the default stays below the process's open-file limit. */
  readonly maxConnections: number;
  /** Open connections (WebSocket or HTTP, upgraded or not) from one client address. */
  readonly maxSocketsPerAddress: number;
  /** WebSocket sockets from one client address that have not finished authentication. */
  readonly maxUnauthenticatedPerAddress: number;
  /** Upgrade requests one client address may make per second. */
  readonly maxConnectRatePerAddress: number;
  /** Most events one recovery (`since`) replays; a longer gap is answered `recovered: false`. */
  readonly recoveryMaxEvents: number;
  /** Recent events the history cache keeps per channel (0: no cache). */
  readonly historyCacheEvents: number;
  /** Encoded bytes the history cache keeps across all channels. */
  readonly historyCacheBytes: number;
  /** Pending TCP connections the kernel queues for accept (capped by net.core.somaxconn). */
  readonly listenBacklog: number;
  /** User ids remembered as existing (`creator` subscriptions). */
  readonly userCacheSize: number;
  /** Posts whose access columns are remembered (`post` subscriptions). */
  readonly postCacheSize: number;
}

export interface DatabaseTimeouts {
  /** Connecting to PostgreSQL, and waiting for a free pooled connection. */
  readonly connectTimeoutMs: number;
  /** One statement, enforced by the server (`statement_timeout`) and by the client (a hung server). */
  readonly statementTimeoutMs: number;
  /** A transaction left idle this long is ended by the server. */
  readonly idleInTransactionTimeoutMs: number;
}

export interface Timings {
  readonly authTimeoutMs: number;
  /** Time for the headers of an HTTP request (and an upgrade request) to arrive. */
  readonly headersTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly drainMs: number;
  readonly outboxPollMs: number;
  readonly outboxRetentionMs: number;
  readonly expirySweepMs: number;
  /** How long before a token's expiry the socket gets `token-expiring`. */
  readonly tokenRefreshWindowMs: number;
  /** How long after a token's expiry a socket that did not re-authenticate stays open before 4001. */
  readonly tokenExpiryGraceMs: number;
  /** How long a user id found in the database is trusted without asking again; 0: always ask. */
  readonly userCacheTtlMs: number;
  /** How long a post's access columns read from the database are trusted without asking again; 0: always ask. */
  readonly postCacheTtlMs: number;
}

/** How the outbox relays share the work (outbox/relay.ts). */
export interface OutboxSettings {
  /** Partitions of the outbox by channel hash; each is published by one relay at a time. Same value on every node. */
  readonly partitions: number;
}

/** Thrown by loadConfig; `problems` has one line per invalid variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

const MIN_SECRET_LENGTH = 32;

/** Most worker processes `WORKERS` may ask for. */
const MAX_WORKERS = 64;

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      // Decimal digits only: Number() would also take '1e3' and '0x10'.
      const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? null : v));

const url = (protocols: readonly string[]) =>
  optionalText.refine(
    (v) => {
      if (v === null) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const secretText = (min: number) =>
  optionalText.refine((v) => v === null || v.length >= min, { message: `must be at least ${min} characters` });

const ORIGIN_PATTERN = /^https?:\/\/[^/\s]+$/;

const EnvSchema = z.object({
  NODE_ENV: optionalText,
  NEXTAUTH_SECRET: secretText(MIN_SECRET_LENGTH),
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATA_DIR: optionalText,
  PORT: int(-1, 0, 65535),
  WS_PORT: int(-1, 0, 65535),
  HOST: optionalText,
  METRICS_PORT: int(9090, 0, 65535),
  METRICS_HOST: optionalText,
  REALTIME_API_KEY: secretText(16),
  PAYMENT_WEBHOOK_SECRET: secretText(16),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  ALLOW_QUERY_TOKEN: bool(true),
  ALLOWED_ORIGINS: optionalText.transform((v, ctx) => {
    const origins = v?.split(',').map((o) => o.trim()).filter(Boolean) ?? null;
    for (const origin of origins ?? []) {
      if (!ORIGIN_PATTERN.test(origin)) {
        ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://example.com` });
      }
    }
    return origins;
  }),
  ACCEPT_SESSION_COOKIE: bool(false),
  REDIS_URL: url(['redis:', 'rediss:']),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . : -').optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .optional(),
  MIGRATE_ON_START: bool(true),
  MAX_FRAME_BYTES: int(64 * 1024, 256, 16 * 1024 * 1024),
  MAX_SOCKETS_PER_USER: int(20, 1, 10_000),
  MAX_CHANNELS_PER_SOCKET: int(200, 1, 100_000),
  MAX_BUFFERED_BYTES: int(1024 * 1024, 1024, 1024 * 1024 * 1024),
  MAX_QUEUED_FRAMES: int(64, 1, 10_000),
  MAX_CONNECTIONS: int(-1, 1, 10_000_000),
  MAX_SOCKETS_PER_ADDRESS: int(1000, 1, 10_000_000),
  MAX_UNAUTHENTICATED_PER_ADDRESS: int(50, 1, 10_000_000),
  MAX_CONNECT_RATE_PER_ADDRESS: int(50, 1, 1_000_000),
  TRUSTED_PROXIES: optionalText.transform((v, ctx) => {
    if (v === null) return null;
    const parsed = parseTrustedProxies(v);
    if ('problem' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.problem });
      return z.NEVER;
    }
    return parsed.proxies;
  }),
  MAX_TOKEN_TTL: int(0, 1, 10 * 365 * 24 * 3600),
  RECOVERY_MAX_EVENTS: int(300, 0, 100_000),
  HISTORY_CACHE_EVENTS: int(300, 0, 100_000),
  HISTORY_CACHE_BYTES: int(64 * 1024 * 1024, 0, 16 * 1024 * 1024 * 1024),
  LISTEN_BACKLOG: int(4096, 1, 65_535),
  USER_CACHE_SIZE: int(100_000, 1, 10_000_000),
  USER_CACHE_TTL_MS: int(60_000, 0, 3_600_000),
  POST_CACHE_SIZE: int(10_000, 1, 10_000_000),
  POST_CACHE_TTL_MS: int(5000, 0, 3_600_000),
  AUTH_TIMEOUT_MS: int(5000, 100, 120_000),
  HEADERS_TIMEOUT_MS: int(10_000, 100, 600_000),
  DB_CONNECT_TIMEOUT_MS: int(3000, 100, 600_000),
  DB_STATEMENT_TIMEOUT_MS: int(5000, 100, 3_600_000),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(10_000, 100, 3_600_000),
  HEARTBEAT_INTERVAL_MS: int(25_000, 50, 600_000),
  HEARTBEAT_TIMEOUT_MS: int(60_000, 100, 3_600_000),
  DRAIN_MS: int(10_000, 0, 600_000),
  OUTBOX_POLL_MS: int(1000, 10, 600_000),
  OUTBOX_RETENTION_HOURS: int(24, 1, 24 * 365),
  OUTBOX_PARTITIONS: int(8, 1, 256),
  EXPIRY_SWEEP_MS: int(2000, 50, 600_000),
  TOKEN_REFRESH_WINDOW_MS: int(60_000, 0, 86_400_000),
  TOKEN_EXPIRY_GRACE_MS: int(10_000, 0, 600_000),
  WORKERS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return 1;
      if (v.trim() === 'auto') return Math.min(MAX_WORKERS, availableParallelism());
      const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from 1 to ${MAX_WORKERS} or "auto", got "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
});

/** Descriptors kept free for the database, Redis, logs and health checks when MAX_CONNECTIONS is derived. */
function reservedDescriptors(fileLimit: number): number {
  return Math.min(1024, Math.floor(fileLimit / 4));
}

/** What loadConfig reads from the host besides the environment. */
export interface HostLimits {
  /** The process's soft limit of open files, or null when it cannot be read. */
  readonly openFileLimit: number | null;
}

/**
 * Reads the configuration from `env`. Throws ConfigError listing every problem. The default of MAX_CONNECTIONS is
 * the open-file limit minus a reserve (a quarter, at most 1024), so a full node still has descriptors to answer
 * health checks, metrics and its database.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  host: HostLimits = { openFileLimit: readOpenFileLimit() },
): Config {
  const parsed = EnvSchema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Read from env directly so it is reported together with the schema's problems (neither variable can fail to parse).
  if (env.NODE_ENV === 'production' && !env.NEXTAUTH_SECRET?.trim()) {
    problems.push(`NEXTAUTH_SECRET: required when NODE_ENV=production (at least ${MIN_SECRET_LENGTH} characters)`);
  }
  if (!parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (e.PORT !== -1 && e.WS_PORT !== -1 && e.PORT !== e.WS_PORT) {
    problems.push(`PORT: differs from its alias WS_PORT (${e.PORT} vs ${e.WS_PORT}); set one of them`);
  }
  if (e.HEARTBEAT_TIMEOUT_MS <= e.HEARTBEAT_INTERVAL_MS) {
    problems.push('HEARTBEAT_TIMEOUT_MS: must be longer than HEARTBEAT_INTERVAL_MS');
  }
  if (e.ACCEPT_SESSION_COOKIE && !e.ALLOWED_ORIGINS?.length) {
    // A browser sends the cookie with an upgrade started by any site; only the Origin check keeps other sites out.
    problems.push('ACCEPT_SESSION_COOKIE: requires ALLOWED_ORIGINS (the sites allowed to connect with the session cookie)');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const port = e.PORT !== -1 ? e.PORT : e.WS_PORT !== -1 ? e.WS_PORT : 3002;
  const fileLimit = host.openFileLimit;
  const derivedMaxConnections = fileLimit === null ? 10_000 : Math.max(1, fileLimit - reservedDescriptors(fileLimit));
  return {
    production,
    nextAuthSecret: e.NEXTAUTH_SECRET,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR ?? './data',
    port,
    host: e.HOST ?? '0.0.0.0',
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST ?? '127.0.0.1',
    apiKey: e.REALTIME_API_KEY,
    paymentWebhookSecret: e.PAYMENT_WEBHOOK_SECRET,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    allowQueryToken: e.ALLOW_QUERY_TOKEN,
    allowedOrigins: e.ALLOWED_ORIGINS,
    acceptSessionCookie: e.ACCEPT_SESSION_COOKIE,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX ?? 'fonana-realtime:',
    logLevel: e.LOG_LEVEL ?? 'info',
    migrateOnStart: e.MIGRATE_ON_START,
    trustedProxies: e.TRUSTED_PROXIES,
    maxTokenTtlSeconds: e.MAX_TOKEN_TTL === 0 ? null : e.MAX_TOKEN_TTL,
    limits: {
      maxFrameBytes: e.MAX_FRAME_BYTES,
      maxSocketsPerUser: e.MAX_SOCKETS_PER_USER,
      maxChannelsPerSocket: e.MAX_CHANNELS_PER_SOCKET,
      maxBufferedBytes: e.MAX_BUFFERED_BYTES,
      maxQueuedFrames: e.MAX_QUEUED_FRAMES,
      maxConnections: e.MAX_CONNECTIONS !== -1 ? e.MAX_CONNECTIONS : derivedMaxConnections,
      maxSocketsPerAddress: e.MAX_SOCKETS_PER_ADDRESS,
      maxUnauthenticatedPerAddress: e.MAX_UNAUTHENTICATED_PER_ADDRESS,
      maxConnectRatePerAddress: e.MAX_CONNECT_RATE_PER_ADDRESS,
      recoveryMaxEvents: e.RECOVERY_MAX_EVENTS,
      historyCacheEvents: e.HISTORY_CACHE_EVENTS,
      historyCacheBytes: e.HISTORY_CACHE_BYTES,
      listenBacklog: e.LISTEN_BACKLOG,
      userCacheSize: e.USER_CACHE_SIZE,
      postCacheSize: e.POST_CACHE_SIZE,
    },
    database: {
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: e.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
    timings: {
      authTimeoutMs: e.AUTH_TIMEOUT_MS,
      headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
      heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
      heartbeatTimeoutMs: e.HEARTBEAT_TIMEOUT_MS,
      drainMs: e.DRAIN_MS,
      outboxPollMs: e.OUTBOX_POLL_MS,
      outboxRetentionMs: e.OUTBOX_RETENTION_HOURS * 3600_000,
      expirySweepMs: e.EXPIRY_SWEEP_MS,
      tokenRefreshWindowMs: e.TOKEN_REFRESH_WINDOW_MS,
      tokenExpiryGraceMs: e.TOKEN_EXPIRY_GRACE_MS,
      userCacheTtlMs: e.USER_CACHE_TTL_MS,
      postCacheTtlMs: e.POST_CACHE_TTL_MS,
    },
    outbox: { partitions: e.OUTBOX_PARTITIONS },
    workers: e.WORKERS,
  };
}

/** The names of every environment variable the configuration reads (docs and their tests list each one). */
export const ENV_NAMES: readonly string[] = Object.keys(EnvSchema.shape);
