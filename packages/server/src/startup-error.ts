/**
 * A start-up failure the operator can fix: the setting to look at and what went wrong, as one line
 * (`METRICS_PORT: cannot listen on 127.0.0.1:9090: address already in use`). The CLI prints it and exits 1.
 */
export class StartupError extends Error {
  constructor(
    readonly setting: string,
    cause: string,
  ) {
    super(`${setting}: ${cause}`);
    this.name = 'StartupError';
  }
}

const LISTEN_CAUSES: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
};

/** A listener's bind failure as a StartupError naming `setting`. */
export function listenError(setting: string, host: string, port: number, err: unknown): StartupError {
  const code = (err as { code?: unknown }).code;
  const cause = typeof code === 'string' && LISTEN_CAUSES[code] ? `${LISTEN_CAUSES[code]} (${code})` : (err as Error).message;
  return new StartupError(setting, `cannot listen on ${host}:${port}: ${cause}`);
}
