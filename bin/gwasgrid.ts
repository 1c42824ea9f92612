#!/usr/bin/env node
/**
 * The `gwasgrid` command: composes the analysis and coordinator commands (coordinator/) and the worker command
 * (worker/). Maps typed errors to documented exit codes and prints them without stack traces.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createRequire } from 'node:module';
import { mlmCommand, kinshipCommand } from '../coordinator/commands.js';
import { coordinatorCommand } from '../coordinator/distributed-command.js';
import { convertCommand } from '../coordinator/convert-command.js';
import { glmCommand, farmcpuCommand } from '../coordinator/fem-commands.js';
import { cmlmCommand } from '../coordinator/cmlm-command.js';
import { workerCommand } from '../worker/command.js';
import { plotCommand } from '../coordinator/plot-command.js';
import { GwasError, exitCodeFor, EXIT } from '../shared/errors.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

function fail(err: unknown): never {
  if (err instanceof GwasError) {
    process.stderr.write(`gwasgrid: error: ${err.describe()}\n`);
  } else {
    process.stderr.write(`gwasgrid: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(exitCodeFor(err));
}

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName('gwasgrid')
    .usage('$0 <command> [options]\n\nGEMMA-exact mixed-model GWAS that scales from a laptop to a cluster.')
    .command(mlmCommand)
    .command(cmlmCommand)
    .command(kinshipCommand)
    .command(convertCommand)
    .command(glmCommand)
    .command(farmcpuCommand)
    .command(coordinatorCommand)
    .command(workerCommand)
    .command(plotCommand)
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .version(pkg.version)
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .epilog('Exit codes: 0 ok, 1 internal error, 2 usage, 3 input data, 4 numeric failure, 5 resource limit, 6 distributed run (token refused, coordinator unreachable, version mismatch).')
    .fail((msg, err) => {
      if (err) fail(err);
      process.stderr.write(`gwasgrid: error: ${msg}\n(see gwasgrid --help)\n`);
      process.exit(EXIT.usage);
    })
    .parseAsync();
}

main().catch(fail);
