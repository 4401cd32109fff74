/**
 * `qmig config --markdown`: the table of configuration variables (the README's table).
 * `qmig config --check`: validates the current environment and says what is wrong (never
 * printing a secret: see src/redaction.ts).
 */
import { configMarkdown, ConfigError, loadConfig } from '../config/config.js';
import { redactText } from '../redaction.js';
import type { Subcommand } from './main.js';

export const configCommand: Subcommand = {
  name: 'config',
  summary: 'print the configuration variables (--markdown) or validate the environment (--check)',
  usage: 'usage: qmig config --markdown | --check',
  options: ['--markdown', '--check', '--help'],
  async run(args) {
    if (args.includes('--markdown')) {
      console.log(configMarkdown());
      return 0;
    }
    if (args.includes('--check')) {
      try {
        loadConfig(process.env);
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(`qmig: invalid configuration: ${redactText(err.message)}`);
          return 2;
        }
        throw err;
      }
      console.log('configuration ok');
      return 0;
    }
    console.error('usage: qmig config --markdown | --check');
    return 2;
  },
};
