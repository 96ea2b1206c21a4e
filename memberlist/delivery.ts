/**
 * How many packets reach their peer, estimated from our own probes, and the retransmit budget
 * that calls for.
 *
 * Why: memberlist sends each broadcast `retransmitMult × ceil(log10(N + 1))` times, a budget
 * sized for a network that delivers what it is given. When every copy arrives with probability
 * q < 1, each node receives q times fewer copies, and the chance that some node receives none
 * grows like N·e^(−q·budget): in the simulator, at 30 nodes and 50 % loss, a third of joins left
 * one node unaware until its next push/pull, 15 s later. Scaling the budget by 1/q keeps the
 * expected number of copies that arrive where memberlist meant it to be. q comes from direct
 * probes: a ping and its ack both arrive with probability q², so q ≈ √(direct acks / direct
 * pings), smoothed over the last ten or so probes. A failed member's missed acks count too,
 * which costs a few extra copies while it is being detected. The factor is capped at 3: beyond
 * 89 % loss no gossip budget helps.
 *
 * @module
 */

// Weight of the newest probe: about the last ten probes count.
const ALPHA = 0.1;
// Round-trip success below which the factor stops growing (q = 1/3).
const MIN_ROUND_TRIP = 1 / 9;

/**
 * A smoothed estimate of one-way packet delivery from direct probe outcomes.
 *
 * @example
 * ```ts
 * const delivery = new DeliveryEstimate();
 * delivery.record(false); // a direct ping got no ack in time
 * delivery.retransmitFactor; // > 1
 * ```
 */
export class DeliveryEstimate {
  #roundTrip = 1;

  /** Records whether a direct ping was acked before the probe timeout. */
  record(acked: boolean): void {
    this.#roundTrip += ALPHA * ((acked ? 1 : 0) - this.#roundTrip);
  }

  /** Estimated probability that one packet arrives (1 until probes say otherwise). */
  get oneWay(): number {
    return Math.sqrt(Math.max(this.#roundTrip, MIN_ROUND_TRIP));
  }

  /** What the retransmit budget is multiplied by: 1 / {@link oneWay}, from 1 to 3. */
  get retransmitFactor(): number {
    return 1 / this.oneWay;
  }
}
