/** The server package's public surface, for embedding the gateway or scripting against it. Re-exports only. */
export { GatewayNode, type StartOptions } from './node.ts';
export { loadConfig, ConfigError, type Config, type Limits, type Timings } from './config/config.ts';
export { createLogger, type Logger } from './logger.ts';
export { mintToken, verifyToken, type MintOptions, type TokenOptions, type VerifiedToken } from './auth/tokens.ts';
export { openDatabase, type Database, type OpenDatabaseOptions } from './db/client.ts';
export { migrate, type MigrateResult } from './db/migrate.ts';
export { seed, type DemoWorld } from './db/seed.ts';
export { signPayload } from './http/signature.ts';
export { createBroker, MemoryBroker, RedisBroker, type Broker, type BrokerMessage } from './broker/index.ts';
export { GatewayError, isGatewayError } from './errors.ts';
