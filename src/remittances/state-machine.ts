/**
 * The remittance state machine: every allowed edge, in one table.
 *
 * Owns: which event may move a remittance from which state to which. Never: I/O. The
 * service asserts each transition against this table before it writes anything, and
 * again (by the row's version) when it writes.
 *
 *   created  --fund-->            funded       (origin agent took the sender's cash)
 *   created  --cancel/expire-->   cancelled | expired            (nothing was reserved)
 *   funded   --accept (not last)-> funded      (one more hop reserved its obligation)
 *   funded   --accept (last)-->   ready        (the payout agent reserved the payout)
 *   funded | ready --decline/timeout/suspend--> funded (rerouted) | refunded | held
 *   ready    --payout-->          paid --post all--> completed
 *   funded | ready --cancel-->    refunded     (under the cancellation policy)
 *   ready    --payout deadline--> refunded
 *   held     --resume-->          funded (rerouted) | refunded (no route left)
 *   held     --refund-->          refunded
 *   held     --write off-->       written_off  (an operator books the loss)
 */
import { RemitnetError } from '../network/errors.ts';
import type { RemittanceEvent, RemittanceState } from './types.ts';

export const TRANSITIONS: Readonly<
  Record<RemittanceEvent, readonly (readonly [RemittanceState, RemittanceState])[]>
> = {
  created: [],
  funded: [['created', 'funded']],
  hop_accepted: [['funded', 'funded']],
  ready: [['funded', 'ready']],
  hop_declined: [
    ['funded', 'funded'],
    ['funded', 'refunded'],
    ['funded', 'held'],
  ],
  hop_timed_out: [
    ['funded', 'funded'],
    ['funded', 'refunded'],
  ],
  agent_suspended: [
    ['funded', 'funded'],
    ['ready', 'funded'],
    ['funded', 'held'],
    ['ready', 'held'],
    ['funded', 'refunded'],
    ['ready', 'refunded'],
  ],
  rerouted: [
    ['funded', 'funded'],
    ['ready', 'funded'],
    ['held', 'funded'],
  ],
  payout_code_failed: [['ready', 'ready']],
  payout_code_locked: [['ready', 'ready']],
  payout_code_reissued: [
    ['created', 'created'],
    ['funded', 'funded'],
    ['ready', 'ready'],
  ],
  paid: [['ready', 'paid']],
  completed: [['paid', 'completed']],
  cancelled: [['created', 'cancelled']],
  expired: [['created', 'expired']],
  refunded: [
    ['funded', 'refunded'],
    ['ready', 'refunded'],
    ['held', 'refunded'],
  ],
  held: [
    ['funded', 'held'],
    ['ready', 'held'],
  ],
  resumed: [
    ['held', 'funded'],
    ['held', 'refunded'],
  ],
  written_off: [['held', 'written_off']],
};

export const TERMINAL: ReadonlySet<RemittanceState> = new Set([
  'completed',
  'cancelled',
  'expired',
  'refunded',
  'written_off',
]);

/** States in which the sender's value is reserved or held by the network. */
export const IN_FLIGHT: readonly RemittanceState[] = ['funded', 'ready', 'paid', 'held'];

/** Throws transition_not_allowed unless `event` may move `from` (to `to`, if given). */
export function assertTransition(
  event: RemittanceEvent,
  from: RemittanceState,
  to?: RemittanceState,
): void {
  const ok = TRANSITIONS[event].some(([f, t]) => f === from && (to === undefined || t === to));
  if (!ok) {
    throw new RemitnetError(
      'transition_not_allowed',
      `the remittance is ${from.replace(/_/g, ' ')}: '${event}' cannot happen from there`,
    );
  }
}
