import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { CliModule } from './cli/cli.module.js';
import { COMMANDS, UsageError } from './cli/commands.js';
import { DomainError } from './common/domain-errors.js';
import { ConfigError, loadConfig } from './config/app-config.js';

/**
 * Operator commands on the configured database, with no server running:
 *   npm run cli -- users:create alice --role user
 */
async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      ttl: { type: 'string' },
      'delete-files': { type: 'boolean' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      bytes: { type: 'string' },
      files: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [name, ...args] = positionals;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command || values.help) {
    console.error(
      `Usage: npm run cli -- <command>\n\n${Object.values(COMMANDS)
        .map((c) => `  ${c.usage}`)
        .join('\n')}`,
    );
    return values.help ? 0 : 2;
  }
  const { config } = loadConfig();
  const app = await NestFactory.createApplicationContext(CliModule.forRoot(config), {
    logger: ['error'],
  });
  try {
    await command.run(app, { args, options: values });
    return 0;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) console.error(`Invalid configuration: ${problem}`);
    } else if (
      // The operator's mistakes, the service's refusals (no such user, the last admin), and
      // parseArgs' complaints (TypeErrors): their message says it all.
      error instanceof UsageError ||
      error instanceof DomainError ||
      error instanceof TypeError
    ) {
      console.error(`error: ${error.message}`);
    } else {
      console.error(error);
    }
    process.exitCode = 1;
  },
);
