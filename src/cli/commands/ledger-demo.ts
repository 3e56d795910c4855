/**
 * `remitnet ledger-demo`: opens the configured store, books a small two-phase remittance
 * between three accounts, and prints the balances. A first taste of the ledger.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { Ledger, newId, TransferFlags, AccountFlags } from '../../ledger/index.ts';
import { currency, formatAmount } from '../../money/index.ts';
import { openLedgerStore } from '../../stores/open.ts';

export function registerLedgerDemo(program: Command): void {
  program
    .command('ledger-demo')
    .description(
      'book a reservation and post part of it (the rest is released) on the configured database, and show balances',
    )
    .action(async () => {
      const config = loadConfig();
      const ledger = new Ledger(await openLedgerStore(config));
      try {
        const krw = currency('KRW').numeric;
        const [sender, broker, fees] = [newId(), newId(), newId()];
        await ledger.createAccounts([
          { id: sender, ledger: krw, code: 1 },
          { id: broker, ledger: krw, code: 2, flags: AccountFlags.creditsMustNotExceedDebits },
          { id: fees, ledger: krw, code: 3 },
        ]);
        const reserve = newId();
        const results = await ledger.createTransfers([
          {
            id: reserve,
            debitAccountId: sender,
            creditAccountId: fees,
            amount: 100_000n,
            ledger: krw,
            code: 1,
            flags: TransferFlags.pending,
            timeout: 60,
          },
          { id: newId(), pendingId: reserve, amount: 90_000n, flags: TransferFlags.postPending },
        ]);
        console.log(`transfers: ${results.join(', ')}`);
        for (const a of await ledger.lookupAccounts([sender, broker, fees])) {
          const net = a.creditsPosted - a.debitsPosted;
          console.log(
            `${a.id.toString(16).padStart(32, '0')}  posted net ${formatAmount(net, 'KRW')} KRW`,
          );
        }
      } finally {
        await ledger.close();
      }
    });
}
