/** @module Process entry: read .env and the environment, validate, start, and drain on SIGTERM/SIGINT. The only module with top-level side effects. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, parseConfig, ROOT_DIR } from './config.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';

function environment(): Record<string, string | undefined> {
  const file = path.join(process.cwd(), '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  // Real environment variables win over .env, as with dotenv.
  return { ...fromFile, ...process.env };
}

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(environment());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`config error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  log.info({ model: config.MODEL_ID, why: config.modelReason, device: config.DEVICE, root: ROOT_DIR }, 'starting');
  const server = await startServer(config, log);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal, streamDrainMs: config.STREAM_DRAIN_MS, graceMs: config.SHUTDOWN_GRACE_MS }, 'shutting down: draining in-flight work');
    void server.close().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

void main();
