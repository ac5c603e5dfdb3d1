/**
 * The gateway of bench/reconnect-storm.ts, in its own process: one node over a database URL (or PGlite in DATA_DIR),
 * restarted in place on a `{restart: downMs}` message: stopped with no drain (every socket closed at once with 1012),
 * kept down for downMs, started again on the same port. Answers `{up: true}` each time it serves.
 */
import { loadConfig } from '../packages/server/src/config/config.ts';
import { createLogger } from '../packages/server/src/logger.ts';
import { GatewayNode, openConfiguredDatabase } from '../packages/server/src/node.ts';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
const db = await openConfiguredDatabase(config, logger);
const start = () => GatewayNode.start({ config, logger, secret: config.nextAuthSecret!, db, metrics: false });
let node = await start();
process.send!({ up: true });
process.on('message', async (message: { restart?: number; stop?: true }) => {
  await node.shutdown(0);
  if (message.stop) {
    await db.close();
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, message.restart ?? 0));
  node = await start();
  process.send!({ up: true });
});
