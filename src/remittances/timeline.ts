/**
 * The sender's tracking page: the recorded events in plain words, with the city of each
 * agent at most (never its name, contact, or anybody's personal data), and what comes next.
 */
import type { RemittanceRow } from './row.ts';
import type { HistoryEntry, RemittanceEvent, TimelineEntry } from './types.ts';

const WORDS: Record<RemittanceEvent, (e: HistoryEntry) => string | undefined> = {
  created: () => 'Remittance created from a quote',
  funded: () => 'Cash received by the sending agent; the amount is reserved',
  hop_accepted: (e) => `Accepted by an agent in ${e.detail?.city ?? 'the chain'}`,
  hop_declined: () => 'An agent declined; finding another way',
  hop_timed_out: () => 'An agent did not answer in time; finding another way',
  agent_suspended: () => 'An agent on the route became unavailable',
  rerouted: () => 'Sent on through another route at no extra cost',
  ready: () => 'Ready to be collected by the recipient',
  payout_code_failed: () => undefined, // not shown: the sender need not see failed attempts
  payout_code_locked: () => 'Collection is paused; contact the sending agent for a new code',
  payout_code_reissued: () => 'A new payout code was issued',
  paid: () => 'Paid to the recipient',
  completed: () => 'Completed',
  cancelled: () => 'Cancelled before any money was taken',
  expired: () => 'Expired: the quote ran out before the cash was paid in',
  refunded: (e) =>
    e.detail?.refundMinor !== undefined
      ? 'Refunded: collect your money from the sending agent'
      : 'Refunded',
  held: () => 'On hold: the network is checking the route; your money is accounted for',
  resumed: () => 'Resumed',
  written_off: () => 'Refunded by the network through another agent',
};

export function timelineOf(row: RemittanceRow, history: readonly HistoryEntry[]): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const e of history) {
    const message = WORDS[e.event](e);
    if (message === undefined) continue;
    out.push({ at_ms: e.at_ms, state: e.to, event: e.event, message });
  }
  if (out.length === 0 && row.state === 'created') {
    out.push({
      at_ms: row.createdAt_ms,
      state: 'created',
      event: 'created',
      message: WORDS.created(history[0]!)!,
    });
  }
  return out;
}
