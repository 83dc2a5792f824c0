import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { collectYoungBuffersSooner } from './common/young-buffer-collection.js';
import { ConfigError, loadConfig, type LoadedConfig } from './config/app-config.js';

async function main(): Promise<void> {
  collectYoungBuffersSooner();
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`Invalid configuration: ${problem}`);
    process.exitCode = 1;
    return;
  }
  const { config, warnings } = loaded;
  const app = await createApp(config, warnings);
  await app.listen(config.port);
  new Logger('Main').log(`listening on http://localhost:${config.port} (API docs at /docs)`);
}

main().catch((error: unknown) => {
  console.error(`Start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
