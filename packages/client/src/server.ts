/**
 * `@fonana-realtime/client/server`: the platform backend's side of the gateway's HTTP API (Node only).
 * `publish()` with the API key, `confirmPayment()` signed with the webhook secret exactly as the gateway checks it
 * (`X-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`), `cancelSubscription()`.
 * Network failures, 429 and 5xx are retried with full-jitter backoff; every call is idempotent on the gateway
 * (publish by its idempotency key, generated when not given; payments by `txSignature`; cancel by its nature).
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { ChannelObject, Code } from '@fonana-realtime/protocol';

export interface ServerClientOptions {
  /** HTTP base URL of the gateway, e.g. `http://realtime.internal:3002`. */
  url: string;
  /** `REALTIME_API_KEY`, for publish and cancel. */
  apiKey?: string;
  /** `PAYMENT_WEBHOOK_SECRET`, for confirmPayment. */
  webhookSecret?: string;
  /** Attempts after the first on a retryable failure. Default 3. */
  retries?: number;
  /** Cap of the first retry delay, ms (doubles per retry, full jitter). Default 250. */
  retryDelayMs?: number;
  /** Per-request timeout, ms. Default 10 000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface PublishInput<D = unknown> {
  /** Any channel form (`post:abc`, `{type:'creator', id}`, `user:<id>`), or `userId` instead. */
  channel?: ChannelObject | string;
  userId?: string;
  type: string;
  data?: D;
  /** Same key within 5 minutes: the same id, nothing delivered twice. Generated when absent, so retries are safe. */
  idempotencyKey?: string;
}
export interface PublishResult {
  id: string;
  channel: string;
  duplicate: boolean;
}

interface PaymentCommon {
  txSignature: string;
  userId: string;
  amount: number;
  currency: string;
  fromWallet?: string;
  toWallet?: string;
}
export type PaymentConfirmation =
  | (PaymentCommon & { kind: 'post_purchase'; postId: string })
  | (PaymentCommon & { kind: 'subscription'; creatorId: string; plan: string });

export interface PostPurchaseResult {
  kind: 'post_purchase';
  txSignature: string;
  userId: string;
  postId: string;
  purchaseId: string;
  transactionId: string;
  price: number;
  currency: string;
  eventIds: string[];
}
export interface SubscriptionPaymentResult {
  kind: 'subscription';
  txSignature: string;
  userId: string;
  creatorId: string;
  subscriptionId: string;
  transactionId: string;
  plan: string;
  previousPlan: string | null;
  change: 'new' | 'renewal' | 'upgrade';
  validUntil: string;
  amount: number;
  currency: string;
  eventIds: string[];
}
/** The gateway's answer; `replayed` when this `txSignature` had been confirmed before (nothing was written again). */
export type PaymentResult = (PostPurchaseResult | SubscriptionPaymentResult) & { replayed: boolean };

export interface CancelResult {
  status: 'cancelled';
  plan: string;
  validUntil: string;
  alreadyCancelled: boolean;
  eventId: string | null;
}

/** A refusal from the gateway: the HTTP status and the code of docs/errors.md (and the field, for a 400/422). */
export class RealtimeApiError extends Error {
  readonly status: number;
  readonly code: Code | 'NETWORK';
  readonly field: string | undefined;

  constructor(status: number, code: Code | 'NETWORK', message: string, field?: string) {
    super(message);
    this.name = 'RealtimeApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** The `X-Signature` header value for `rawBody` (the same computation the gateway verifies). */
export function signPayment(secret: string, rawBody: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export interface ServerClient {
  publish<D = unknown>(input: PublishInput<D>): Promise<PublishResult>;
  confirmPayment(confirmation: PaymentConfirmation): Promise<PaymentResult>;
  cancelSubscription(input: { userId: string; creatorId: string }): Promise<CancelResult>;
}

export function createServerClient(options: ServerClientOptions): ServerClient {
  const base = options.url.replace(/\/$/, '');
  const fetchFn = options.fetch ?? globalThis.fetch;
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 10_000;

  /** POSTs `body`; `headers()` is called per attempt (a payment is signed again with a fresh timestamp). */
  async function post<T>(path: string, raw: string, headers: () => Record<string, string>): Promise<{ body: T; replayed: boolean }> {
    for (let attempt = 0; ; attempt++) {
      let failure: RealtimeApiError;
      try {
        const res = await fetchFn(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers() },
          body: raw,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = (await res.json().catch(() => null)) as any;
        if (res.ok) return { body: body as T, replayed: res.headers.get('idempotent-replay') === 'true' };
        failure = new RealtimeApiError(res.status, body?.error?.code ?? 'GW_ERR_INTERNAL', body?.error?.message ?? `HTTP ${res.status}`, body?.error?.field);
        if (res.status !== 429 && res.status < 500) throw failure;
      } catch (err) {
        if (err instanceof RealtimeApiError && err.status !== 429 && err.status < 500) throw err;
        failure = err instanceof RealtimeApiError ? err : new RealtimeApiError(0, 'NETWORK', (err as Error)?.message ?? String(err));
      }
      if (attempt >= retries) throw failure;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * retryDelayMs * 2 ** attempt));
    }
  }

  const withKey = () => {
    if (!options.apiKey) throw new RealtimeApiError(0, 'GW_ERR_API_NOT_CONFIGURED', 'createServerClient: apiKey is not set');
    return { authorization: `Bearer ${options.apiKey}` };
  };

  return {
    async publish(input) {
      const body = { ...input, idempotencyKey: input.idempotencyKey ?? randomUUID() };
      return (await post<PublishResult>('/v1/publish', JSON.stringify(body), withKey)).body;
    },
    async confirmPayment(confirmation) {
      const secret = options.webhookSecret;
      if (!secret) throw new RealtimeApiError(0, 'GW_ERR_API_NOT_CONFIGURED', 'createServerClient: webhookSecret is not set');
      const raw = JSON.stringify(confirmation);
      const { body, replayed } = await post<PostPurchaseResult | SubscriptionPaymentResult>('/v1/payments/confirmed', raw, () => ({
        'x-signature': signPayment(secret, raw),
      }));
      return { ...body, replayed };
    },
    async cancelSubscription(input) {
      return (await post<CancelResult>('/v1/subscriptions/cancel', JSON.stringify(input), withKey)).body;
    },
  };
}
