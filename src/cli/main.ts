/**
 * The `remitnet` command line. Each command lives in its own file under commands/ and
 * registers itself here; this file only wires them and turns errors into one clear line.
 */
import { Command } from 'commander';
import { registerLedgerDemo } from './commands/ledger-demo.ts';
import { registerKeys } from './commands/keys.ts';
import { registerServe } from './commands/serve.ts';
import { registerInit } from './commands/init.ts';
import { registerClientCommands } from './commands/client.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerSecret } from './commands/secret.ts';

const program = new Command();
program
  .name('remitnet')
  .description('Runs a remittance network of independent agents on an exact double-entry ledger.')
  .option('--json', 'print results as JSON on stdout (for scripts)')
  .showHelpAfterError('(run with --help for usage)');

registerInit(program);
registerServe(program);
registerKeys(program);
registerClientCommands(program);
registerLedgerDemo(program);
registerMigrate(program);
registerSecret(program);

// A reader that stops early (`remitnet export | head`) closes the pipe: that is the end of
// the output, not a crash with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`remitnet: ${message}\n`);
  process.exitCode = 1;
}
