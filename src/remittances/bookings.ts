/**
 * The ledger transfers of each remittance step (docs/accounting.md shows them worked out).
 *
 * Owns: turning a route's legs into transfers, with ids derived from (remittance, attempt,
 * leg, purpose), so re-driving a step after a crash books nothing twice (`exists`). A
 * remittance created since transfer ids were time-ordered (`RemittanceRow.transferIds`)
 * derives ids that lead with its own id's milliseconds (`transferId`): the transfers of the
 * remittances in flight then sit together at the end of the ledger's id index, where a
 * commit rewrites a few pages, instead of one random page each (measured under bench:api:
 * 11.1 WAL frames a remittance for that index before, 1.2 after).
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

/** What a remittance's transfer ids derive from: its row has both fields. */
export interface TransferKey {
  readonly id: string;
  /** 'time': ids lead with the remittance id's milliseconds; absent: hashed (rows before). */
  readonly transferIds?: 'time';
}

const LOW_80 = (1n << 80n) - 1n;
const REMITTANCE_MS = /^[0-9a-f]{12}/;

/**
 * A transfer id of the remittance: a hash of (remittance, parts). Time-ordered keys put
 * the remittance id's top 48 bits (the milliseconds of its time-ordered id, ../ledger/
 * ids.ts) above the hash's low 80 bits, so ids stay unique per name and still sort by the
 * remittance's creation time. A row without `transferIds` keeps the ids its steps already
 * booked: a step re-driven after an upgrade must derive the same id to answer `exists`.
 */
export function transferId(key: TransferKey, ...parts: readonly string[]): bigint {
  const hashed = derivedId('rt', key.id, ...parts);
  if (key.transferIds !== 'time') return hashed;
  const ms = REMITTANCE_MS.exec(key.id);
  if (ms === null) throw new Error(`remittance id ${key.id} does not start with its time`);
  return (BigInt('0x' + ms[0]) << 80n) | (hashed & LOW_80);
}

export function fundingId(key: TransferKey): bigint {
  return transferId(key, 'fund');
}

export function fundingTransfer(
  key: TransferKey,
  originAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
  timeout_s: number,
): TransferInput {
  return {
    id: fundingId(key),
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
  key: TransferKey,
  attempt: number,
  leg: QuoteLeg,
  isPayout: boolean,
  timeout_s: number,
): TransferInput[] {
  const out: TransferInput[] = [];
  const id = (purpose: string) => transferId(key, `a${attempt}`, `leg${leg.index}`, purpose);
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

export function postAll(key: TransferKey, reserved: readonly string[]): TransferInput[] {
  return reserved.map((hex) => ({
    id: transferId(key, 'post', hex),
    pendingId: hexToId(hex)!,
    flags: TransferFlags.postPending,
  }));
}

/** Voids are not linked: one already released (voided or expired) must not block others. */
export function voidAll(key: TransferKey, reserved: readonly string[]): TransferInput[] {
  return reserved.map((hex) => ({
    id: transferId(key, 'void', hex),
    pendingId: hexToId(hex)!,
    flags: TransferFlags.voidPending,
  }));
}

/** Posts part of the funding (the cancellation fee) and books it as the origin's commission. */
export function cancellationFee(
  key: TransferKey,
  originAgentId: string,
  cur: CurrencyCode,
  feeMinor: bigint,
  fundingPosted: boolean,
): TransferInput[] {
  const fee: TransferInput = {
    id: transferId(key, 'cancel_fee'),
    debitAccountId: inFlightId(cur),
    creditAccountId: commissionId(originAgentId, cur),
    amount: feeMinor,
    ledger: ledgerOf(cur),
    code: TransferCode.cancellationFee,
  };
  if (fundingPosted) return [fee];
  return linked([
    {
      id: transferId(key, 'post_fee'),
      pendingId: fundingId(key),
      amount: feeMinor,
      flags: TransferFlags.postPending,
    },
    fee,
  ]);
}

/** Returns posted funding to the origin agent (it hands the cash back to the sender). */
export function reverseFunding(
  key: TransferKey,
  originAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
): TransferInput {
  return {
    id: transferId(key, 'reverse_funding'),
    debitAccountId: inFlightId(cur),
    creditAccountId: positionId(originAgentId, cur),
    amount: amountMinor,
    ledger: ledgerOf(cur),
    code: TransferCode.heldRefund,
  };
}

export function postFunding(key: TransferKey): TransferInput {
  return {
    id: transferId(key, 'hold_funding'),
    pendingId: fundingId(key),
    flags: TransferFlags.postPending,
  };
}

/**
 * The funding as a posted transfer, for a hold after the ledger released the pending one
 * by its timeout: the origin owes the sender's cash again, exactly as a posted funding.
 */
export function rebookFunding(
  key: TransferKey,
  originAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
): TransferInput {
  return {
    id: transferId(key, 'hold_funding_rebooked'),
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
  key: TransferKey,
  originAgentId: string,
  refundViaAgentId: string,
  cur: CurrencyCode,
  amountMinor: bigint,
): TransferInput[] {
  const ledger = ledgerOf(cur);
  return linked([
    {
      id: transferId(key, 'write_off'),
      debitAccountId: writeOffId(cur),
      creditAccountId: positionId(originAgentId, cur),
      amount: amountMinor,
      ledger,
      code: TransferCode.writeOff,
    },
    {
      id: transferId(key, 'refund_by_agent'),
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
  // Only the amounts count here, not the ids.
  const key = { id: remittanceId };
  add(fundingTransfer(key, originAgentId, sendCurrency, sendMinor, 1));
  legs.forEach((leg, i) => legTransfers(key, 0, leg, i === legs.length - 1, 1).forEach(add));
  for (const leg of legs) {
    for (const cur of [leg.currencyIn, leg.currencyOut]) {
      const left = net.get(inFlightId(cur)) ?? 0n;
      if (left !== 0n) {
        throw new Error(`invariant: route of ${remittanceId} leaves ${left} ${cur} in flight`);
      }
    }
  }
}
