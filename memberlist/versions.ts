/**
 * Protocol compatibility of a push/pull merge, as memberlist's verifyProtocol: every member's
 * current protocol and delegate versions, ours and the remote's, must lie within what every
 * alive member supports. The check runs on every push/pull; our side changes rarely, so its
 * bounds are kept per table version instead of walking 10,000 records each time.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import { NodeStateCode } from "./member.ts";

/** What a version check reads of a member: its state and `[pmin, pmax, pcur, dmin, dmax, dcur]`. */
export interface Versioned {
  readonly name: string;
  readonly state: number;
  readonly vsn: Uint8Array;
}

/**
 * A push/pull merge refused because protocol versions do not overlap.
 *
 * @example
 * ```ts
 * try { await list.join([peer]); } catch (e) { if (e instanceof JoinError) console.log(e.errors[0].error instanceof ProtocolError); }
 * ```
 */
export class ProtocolError extends ClusterError<"protocol"> {
  /**
   * Describes the incompatibility.
   *
   * @param message what is incompatible
   */
  constructor(message: string) {
    super("protocol", message);
  }
}

/**
 * Version bounds of a set of members: the range every alive one supports, and the lowest and
 * highest current versions of all of them.
 *
 * @example
 * ```ts
 * const ours = VersionBounds.of(table.nodes);
 * const theirs = VersionBounds.of(remote);
 * ours.verify(theirs, remote, table.nodes); // throws ProtocolError naming a member
 * ```
 */
export class VersionBounds {
  /** Highest minimum protocol among alive members. */
  maxPMin = 0;
  /** Lowest maximum protocol among alive members. */
  minPMax = 255;
  /** Highest minimum delegate protocol among alive members. */
  maxDMin = 0;
  /** Lowest maximum delegate protocol among alive members. */
  minDMax = 255;
  /** Lowest current protocol of any member (0 when a member sent no versions). */
  minPCur = 255;
  /** Highest current protocol of any member. */
  maxPCur = 0;
  /** Lowest current delegate protocol of any member. */
  minDCur = 255;
  /** Highest current delegate protocol of any member. */
  maxDCur = 0;

  /** Bounds of `members`. */
  static of(members: Iterable<Versioned>): VersionBounds {
    const b = new VersionBounds();
    for (const m of members) b.add(m);
    return b;
  }

  /** Widens the bounds by one member. */
  add(m: Versioned): void {
    const v = m.vsn;
    const full = v.length >= 6;
    if (full && m.state === NodeStateCode.alive) {
      if (v[0] > this.maxPMin) this.maxPMin = v[0];
      if (v[1] < this.minPMax) this.minPMax = v[1];
      if (v[3] > this.maxDMin) this.maxDMin = v[3];
      if (v[4] < this.minDMax) this.minDMax = v[4];
    }
    const pcur = full ? v[2] : 0;
    const dcur = full ? v[5] : 0;
    if (pcur < this.minPCur) this.minPCur = pcur;
    if (pcur > this.maxPCur) this.maxPCur = pcur;
    if (dcur < this.minDCur) this.minDCur = dcur;
    if (dcur > this.maxDCur) this.maxDCur = dcur;
  }

  /**
   * Checks these bounds (ours) together with `theirs`: throws naming the first member, remote
   * ones first, whose current versions fall outside the range all alive members support.
   *
   * @param theirs the remote members' bounds
   * @param remote the remote members (searched for a name only on failure)
   * @param local our members (likewise)
   * @throws ProtocolError when some member is incompatible
   */
  verify(theirs: VersionBounds, remote: Iterable<Versioned>, local: Iterable<Versioned>): void {
    const pMin = Math.max(this.maxPMin, theirs.maxPMin);
    const pMax = Math.min(this.minPMax, theirs.minPMax);
    const dMin = Math.max(this.maxDMin, theirs.maxDMin);
    const dMax = Math.min(this.minDMax, theirs.minDMax);
    const ok = Math.min(this.minPCur, theirs.minPCur) >= pMin &&
      Math.max(this.maxPCur, theirs.maxPCur) <= pMax &&
      Math.min(this.minDCur, theirs.minDCur) >= dMin &&
      Math.max(this.maxDCur, theirs.maxDCur) <= dMax;
    if (ok) return;
    for (const members of [remote, local]) {
      for (const m of members) {
        const v = m.vsn;
        const pcur = v.length >= 6 ? v[2] : 0;
        const dcur = v.length >= 6 ? v[5] : 0;
        if (pcur < pMin || pcur > pMax) {
          throw new ProtocolError(
            `node '${m.name}' protocol version ${pcur} not in [${pMin}, ${pMax}]`,
          );
        }
        if (dcur < dMin || dcur > dMax) {
          throw new ProtocolError(
            `node '${m.name}' delegate protocol ${dcur} not in [${dMin}, ${dMax}]`,
          );
        }
      }
    }
  }
}
