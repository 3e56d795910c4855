/**
 * The ledger transfers of each remittance step (docs/accounting.md shows them worked out).
 *
 * Owns: turning a route's legs into transfers, with ids derived from (remittance, attempt,
 * leg, purpose), so re-driving a step after a crash books nothing twice (`exists`).
 * Never: a decision about state; the service decides which step runs.
 *
 * Per leg i of the route (agent a_i receives in_i in currency C_i, keeps commission c_i):
 *   commission:  in-flight(C_i)  -> commission(a_i, C_i)   c_i          pending
 *   conversion:  in-flight(C_i)  -> position(a_i, C_i)     in_i - c_i   pending  } linked, the
 *                position(a_i, D) -> in-flight(D)          converted    pending  } agent's rate
 *   payout:      in-flight(C_n)  -> position(a_n, C_n)     delivered    pending
 * and at funding: position(a_0, send currency) -> in-flight(send currency), the amount sent.
 */
import { hexToId, idToHex, TransferFlags, type TransferInput } from '../ledger/index.ts';
import type { CurrencyCode } from '../money/index.ts';
import {
  commissionId,
  derivedId,
  inFlightId,
  ledgerOf,
  positionId,
  TransferCode,
  writeOffId,
} from '../network/accounts.ts';
import type { QuoteLeg } from '../network/types.ts';

export function fundingId(remittanceId: string): bigint {
  return derivedId('rt', remittanceId, 'fund');
}

export function fundingTransfer(
  remittanceId: string,
  originAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
  timeout_s: number,
): TransferInput {
  return {
    id: fundingId(remittanceId),
    debitAccountId: positionId(originAgentId, cur),
    creditAccountId: inFlightId(cur),
    amount: amountMinor,
    ledger: ledgerOf(cur),
    code: TransferCode.funding,
    flags: TransferFlags.pending,
    timeout: timeout_s,
  };
}

/** The reservations an agent takes on when it funds (leg 0) or accepts (leg i). */
export function legTransfers(
  remittanceId: string,
  attempt: number,
  leg: QuoteLeg,
  isPayout: boolean,
  timeout_s: number,
): TransferInput[] {
  const out: TransferInput[] = [];
  const id = (purpose: string) =>
    derivedId('rt', remittanceId, `a${attempt}`, `leg${leg.index}`, purpose);
  const pending = (
    purpose: string,
    debit: bigint,
    credit: bigint,
    amount: bigint,
    cur: CurrencyCode,
    code: number,
  ): TransferInput => ({
    id: id(purpose),
    debitAccountId: debit,
    creditAccountId: credit,
    amount,
    ledger: ledgerOf(cur),
    code,
    flags: TransferFlags.pending,
    timeout: timeout_s,
  });
  const cin = leg.currencyIn;
  if (leg.commissionMinor > 0n) {
    out.push(
      pending(
        'commission',
        inFlightId(cin),
        commissionId(leg.agentId, cin),
        leg.commissionMinor,
        cin,
        TransferCode.commission,
      ),
    );
  }
  if (isPayout) {
    out.push(
      pending(
        'payout',
        inFlightId(cin),
        positionId(leg.agentId, cin),
        leg.amountOutMinor,
        cin,
        TransferCode.payout,
      ),
    );
  } else if (leg.rate !== undefined && leg.convertedMinor !== undefined) {
    const cout = leg.currencyOut;
    out.push(
      pending(
        'fx_in',
        inFlightId(cin),
        positionId(leg.agentId, cin),
        leg.amountInMinor - leg.commissionMinor,
        cin,
        TransferCode.exchangeIn,
      ),
      pending(
        'fx_out',
        positionId(leg.agentId, cout),
        inFlightId(cout),
        leg.convertedMinor,
        cout,
        TransferCode.exchangeOut,
      ),
    );
  }
  return out;
}

/** Links a batch into one chain: all of it applies, or none. */
export function linked(transfers: readonly TransferInput[]): TransferInput[] {
  return transfers.map((t, i) => ({
    ...t,
    flags: (t.flags ?? 0) | (i < transfers.length - 1 ? TransferFlags.linked : 0),
  }));
}

export function postAll(remittanceId: string, reserved: readonly string[]): TransferInput[] {
  return reserved.map((hex) => ({
    id: derivedId('rt', remittanceId, 'post', hex),
    pendingId: hexToId(hex)!,
    flags: TransferFlags.postPending,
  }));
}

/** Voids are not linked: one already released (voided or expired) must not block others. */
export function voidAll(remittanceId: string, reserved: readonly string[]): TransferInput[] {
  return reserved.map((hex) => ({
    id: derivedId('rt', remittanceId, 'void', hex),
    pendingId: hexToId(hex)!,
    flags: TransferFlags.voidPending,
  }));
}

/** Posts part of the funding (the cancellation fee) and books it as the origin's commission. */
export function cancellationFee(
  remittanceId: string,
  originAgentId: string,
  cur: CurrencyCode,
  feeMinor: bigint,
  fundingPosted: boolean,
): TransferInput[] {
  const fee: TransferInput = {
    id: derivedId('rt', remittanceId, 'cancel_fee'),
    debitAccountId: inFlightId(cur),
    creditAccountId: commissionId(originAgentId, cur),
    amount: feeMinor,
    ledger: ledgerOf(cur),
    code: TransferCode.cancellationFee,
  };
  if (fundingPosted) return [fee];
  return linked([
    {
      id: derivedId('rt', remittanceId, 'post_fee'),
      pendingId: fundingId(remittanceId),
      amount: feeMinor,
      flags: TransferFlags.postPending,
    },
    fee,
  ]);
}

/** Returns posted funding to the origin agent (it hands the cash back to the sender). */
export function reverseFunding(
  remittanceId: string,
  originAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
): TransferInput {
  return {
    id: derivedId('rt', remittanceId, 'reverse_funding'),
    debitAccountId: inFlightId(cur),
    creditAccountId: positionId(originAgentId, cur),
    amount: amountMinor,
    ledger: ledgerOf(cur),
    code: TransferCode.heldRefund,
  };
}

export function postFunding(remittanceId: string): TransferInput {
  return {
    id: derivedId('rt', remittanceId, 'hold_funding'),
    pendingId: fundingId(remittanceId),
    flags: TransferFlags.postPending,
  };
}

/**
 * The funding as a posted transfer, for a hold after the ledger released the pending one
 * by its timeout: the origin owes the sender's cash again, exactly as a posted funding.
 */
export function rebookFunding(
  remittanceId: string,
  originAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
): TransferInput {
  return {
    id: derivedId('rt', remittanceId, 'hold_funding_rebooked'),
    debitAccountId: positionId(originAgentId, cur),
    creditAccountId: inFlightId(cur),
    amount: amountMinor,
    ledger: ledgerOf(cur),
    code: TransferCode.funding,
  };
}

/**
 * The loss when the origin agent is gone with the sender's cash: the network writes off what
 * that agent owed for this remittance, and owes the agent that refunds the sender instead.
 */
export function writeOffTransfers(
  remittanceId: string,
  originAgentId: string,
  refundViaAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
): TransferInput[] {
  const ledger = ledgerOf(cur);
  return linked([
    {
      id: derivedId('rt', remittanceId, 'write_off'),
      debitAccountId: writeOffId(cur),
      creditAccountId: positionId(originAgentId, cur),
      amount: amountMinor,
      ledger,
      code: TransferCode.writeOff,
    },
    {
      id: derivedId('rt', remittanceId, 'refund_by_agent'),
      debitAccountId: inFlightId(cur),
      creditAccountId: positionId(refundViaAgentId, cur),
      amount: amountMinor,
      ledger,
      code: TransferCode.refundByAgent,
    },
  ]);
}

export function hex(id: bigint): string {
  return idToHex(id);
}

/**
 * Invariant: the reservations of a whole route leave nothing in flight. For every currency,
 * what funding and conversions put into in_flight equals what commissions, conversions and
 * the payout take out. Checked before a route is booked (create and reroute).
 */
export function assertRouteBalanced(
  remittanceId: string,
  originAgentId: string,
  sendCurrency: CurrencyCode,
  sendMinor: bigint,
  legs: readonly QuoteLeg[],
): void {
  const net = new Map<bigint, bigint>();
  const add = (t: TransferInput) => {
    const amount = t.amount ?? 0n;
    if (amount <= 0n) throw new Error(`invariant: a reservation of ${amount} on ${remittanceId}`);
    net.set(t.debitAccountId!, (net.get(t.debitAccountId!) ?? 0n) - amount);
    net.set(t.creditAccountId!, (net.get(t.creditAccountId!) ?? 0n) + amount);
  };
  add(fundingTransfer(remittanceId, originAgentId, sendCurrency, sendMinor, 1));
  legs.forEach((leg, i) =>
    legTransfers(remittanceId, 0, leg, i === legs.length - 1, 1).forEach(add),
  );
  for (const leg of legs) {
    for (const cur of [leg.currencyIn, leg.currencyOut]) {
      const left = net.get(inFlightId(cur)) ?? 0n;
      if (left !== 0n) {
        throw new Error(`invariant: route of ${remittanceId} leaves ${left} ${cur} in flight`);
      }
    }
  }
}
