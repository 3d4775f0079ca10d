// The bench peer's Hive Gateway settings: the defaults (so no response cache) but a quieter
// log. bench/peer/__init__.py passes this file with --config-path, which also keeps the
// gateway from reading mesh.config.ts (the composition's settings) as its own.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  // Warnings and errors only: the log is shown when the process fails. At the default level
  // Hive Gateway writes no line per request either, so this costs or saves nothing under load.
  logging: 'warn',
});
