/**
 * `qmig serve`: loads the configuration (a bad variable → exit 2 naming it), starts the sidecar
 * and stops it gracefully on SIGTERM/SIGINT (a second signal exits at once).
 */
import { ConfigError, loadConfig } from '../config/config.js';
import { redactText } from '../redaction.js';
import { logger, setLogFormat, setLogLevel } from '../logging.js';
import type { Subcommand } from './main.js';

export const serveCommand: Subcommand = {
  name: 'serve',
  summary: 'start the sidecar (HTTP API + management proxy) for the node in QMIG_MANAGEMENT_URL',
  options: ['--help'],
  usage: 'usage: qmig serve\n\nStarts the sidecar. Configuration: QMIG_* environment variables (qmig config --markdown).',
  async run() {
    let config;
    try {
      config = loadConfig(process.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`qmig: invalid configuration: ${redactText(err.message)}`);
        return 2;
      }
      throw err;
    }
    setLogLevel(config.logLevel);
    setLogFormat(config.logFormat);
    let sidecar;
    try {
      // Loaded here, not at the top: client subcommands must not pay for loading the whole sidecar.
      const { startSidecar } = await import('../sidecar.js');
      sidecar = await startSidecar(config);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      console.error(`qmig: cannot start: ${e.code === 'EADDRINUSE' ? `${config.listenHost}:${config.listenPort} is already in use` : e.message}`);
      return 1;
    }
    const running = sidecar;
    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          logger.warn('second signal: exiting now', { signal });
          process.exit(130);
        }
        stopping = true;
        logger.info('signal received, stopping', { signal });
        running.close().then(
          () => resolve(0),
          (err) => {
            logger.error('graceful stop failed', { error: (err as Error).message });
            resolve(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
