/**
 * Demo mode only: the server-to-server API key and the payment webhook secret, generated once and kept in the data
 * folder beside the development secret, so the demo page's payment route works out of the box and a developer can
 * call the API with the same key. Values from the environment win.
 */
import type { Config } from './config.ts';
import { loadOrCreateSecretFile } from './dev-secret.ts';

export const DEMO_API_KEY_FILE = 'realtime-api-key.dev';
export const DEMO_WEBHOOK_SECRET_FILE = 'payment-webhook-secret.dev';

export interface DemoKeys {
  /** The configuration with both keys filled in. */
  config: Config;
  /** Where each generated key is kept (absent when the environment gave it). */
  files: { apiKey?: string; webhookSecret?: string };
}

export async function withDemoKeys(config: Config): Promise<DemoKeys> {
  const files: DemoKeys['files'] = {};
  let { apiKey, paymentWebhookSecret } = config;
  if (!apiKey) {
    const kept = await loadOrCreateSecretFile(config.dataDir, DEMO_API_KEY_FILE);
    apiKey = kept.secret;
    files.apiKey = kept.path;
  }
  if (!paymentWebhookSecret) {
    const kept = await loadOrCreateSecretFile(config.dataDir, DEMO_WEBHOOK_SECRET_FILE);
    paymentWebhookSecret = kept.secret;
    files.webhookSecret = kept.path;
  }
  return { config: { ...config, apiKey, paymentWebhookSecret }, files };
}
