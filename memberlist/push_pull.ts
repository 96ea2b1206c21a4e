/**
 * The stream side of memberlist (docs/PROTOCOL.md §2.6): push/pull state exchange and merge
 * (join and anti-entropy), the TCP fallback ping, reliable user messages, and the inbound
 * stream dispatcher. Every stream gets a TCPTimeout deadline.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import { type HostPort, type Stream, TransportError } from "../transport/mod.ts";
import type { TcpPingOutcome } from "./refusal.ts";
import { MAX_PUSH_PULL_REQUESTS, MAX_STREAM_BYTES } from "./config.ts";
import { type Core, errorText } from "./core.ts";
import { CodecError } from "./wire/mod.ts";
import { decodeMessageBody, encodeMessage, MessageType, type Ping } from "./wire/mod.ts";
import type { PushNodeState, UnchangedAlive } from "./wire/mod.ts";
import {
  compressPushPull,
  encodePushPull,
  encodeStreamUserMsg,
  readPushPull,
  readStreamMessage,
  readUserMsg,
  writeStreamMessage,
} from "./wire/mod.ts";
import { NodeStateCode } from "./state.ts";
import { EMPTY, sameBytes } from "./member.ts";
import { ProtocolError, VersionBounds } from "./versions.ts";

interface SentState {
  readonly version: number;
  readonly join: boolean;
  readonly userState: Uint8Array;
  readonly body: Uint8Array;
}

/**
 * A stream peer answered with an errResp.
 *
 * @example
 * ```ts
 * const err = new RemoteError("boom"); // message "remote error: boom"
 * ```
 */
export class RemoteError extends ClusterError<"remote"> {
  /**
   * Wraps the remote's error text.
   *
   * @param message the remote's text
   */
  constructor(message: string) {
    super("remote", message, { message: `remote error: ${message}` });
  }
}

/** True for errors that mean "refused" (label, keys, protocol) rather than "garbled". */
export function isRejection(e: unknown): boolean {
  if (e instanceof ProtocolError) return true;
  return e instanceof CodecError && /label|encrypt|decrypt|key/i.test(e.message);
}

/**
 * Push/pull, fallback ping and user messages over streams.
 *
 * @example
 * ```ts
 * const streams = new StreamService(core);
 * core.transport.onStream((s) => streams.handleStream(s));
 * await streams.pushPull({ host: "10.0.0.2", port: 7946 }, true);
 * ```
 */
export class StreamService {
  private readonly core: Core;
  private inflight = 0;
  private readonly open = new Set<Stream>();
  // The last push/pull body sent (compressed when compression is on) and what it was built
  // from. While the table and the delegate's state stay the same it is sent again: a quiet
  // cluster of 10,000 members then skips encoding and compressing 10,000 states per exchange.
  private lastState: SentState | undefined;
  // Our members' version bounds, recomputed only when the table changed.
  private ourBounds: { version: number; bounds: VersionBounds } | undefined;
  // Alive states that would not change our table are dropped while decoding. Their versions
  // equal those of an alive member of ours, so the protocol check needs none of them. The
  // decision is taken as the body is read; should that member change before the merge (while
  // our answer is written), merging the state could at most have sent it an accusation that
  // the gossip of the change carries anyway.
  private readonly unchanged: UnchangedAlive = (name, inc, port, buf, addrAt, addrLen, vsnAt, n) =>
    this.core.table.holdsAlive(name, inc, this.portOf(port), buf, addrAt, addrLen, vsnAt, n);

  /** @param core node context */
  constructor(core: Core) {
    this.core = core;
  }

  /** Closes every stream still open (shutdown). */
  closeAll(): void {
    for (const s of this.open) s.close();
    this.open.clear();
  }

  /** Our state as push/pull node entries (every known node, any state). */
  localNodes(): readonly PushNodeState[] {
    // A record has every field of a node state (empty meta is written as nil): no copies.
    return this.core.table.nodes;
  }

  /** Initiates a push/pull with `to` and merges the answer. */
  async pushPull(to: HostPort, join: boolean, timeoutMs?: number): Promise<void> {
    const c = this.core;
    const limit = Math.min(c.tuning.tcpTimeoutMs, timeoutMs ?? Infinity);
    const started = c.clock.now();
    const stream = await this.dial(to, limit);
    const cancel = this.deadline(stream, Math.max(1, limit - (c.clock.now() - started)));
    try {
      c.counters.streamOut("pushPull");
      await this.sendState(stream, join, true);
      const { type, reader } = await readStreamMessage(stream, c.security, {
        maxBytes: MAX_STREAM_BYTES,
        readLabel: false,
      });
      if (type === MessageType.err) {
        const m = decodeMessageBody(type, await reader.readMsgpack());
        throw new RemoteError(m.type === "err" ? m.body.error : "unknown");
      }
      if (type !== MessageType.pushPull) throw new CodecError(`unexpected reply type ${type}`);
      const remote = await readPushPull(reader, {}, this.unchanged);
      cancel();
      this.close(stream);
      this.merge(remote.nodes, remote.userState, join);
      c.counters.inc("pushPullsOut");
    } catch (e) {
      this.countFailure(e);
      throw e;
    } finally {
      cancel();
      this.close(stream);
    }
  }

  /**
   * TCP ping (the probe's fallback, and refusal.ts's check): "acked" when the node acked over
   * a stream before `deadline`, "refused" when the connection was actively refused, "failed"
   * for everything else.
   */
  async tcpPing(to: HostPort, ping: Ping, deadline: number): Promise<TcpPingOutcome> {
    const c = this.core;
    const left = deadline - c.clock.now();
    if (left <= 0 || c.isClosed()) return "failed";
    let stream: Stream;
    try {
      stream = await this.dial(to, left);
    } catch (e) {
      return e instanceof TransportError && e.code === "ECONNREFUSED" ? "refused" : "failed";
    }
    const cancel = this.deadline(stream, Math.max(0, deadline - c.clock.now()));
    try {
      c.counters.streamOut("ping");
      await this.write(stream, encodeMessage({ type: "ping", body: ping }), true);
      const { type, reader } = await readStreamMessage(stream, c.security, {
        maxBytes: MAX_STREAM_BYTES,
        readLabel: false,
      });
      if (type !== MessageType.ack) return "failed";
      const m = decodeMessageBody(type, await reader.readMsgpack());
      return m.type === "ack" && m.body.seqNo === ping.seqNo ? "acked" : "failed";
    } catch (e) {
      this.countFailure(e);
      return "failed";
    } finally {
      cancel();
      this.close(stream);
    }
  }

  /** Sends a user message over a stream (memberlist SendReliable). */
  async sendUser(to: HostPort, payload: Uint8Array): Promise<void> {
    const c = this.core;
    const stream = await this.dial(to, c.tuning.tcpTimeoutMs);
    const cancel = this.deadline(stream, c.tuning.tcpTimeoutMs);
    try {
      c.counters.streamOut("user");
      await this.write(stream, encodeStreamUserMsg(payload), true);
    } finally {
      cancel();
      this.close(stream);
    }
  }

  /** Serves one inbound stream; never throws. */
  handleStream(stream: Stream): void {
    const c = this.core;
    if (c.isClosed()) {
      stream.close();
      return;
    }
    this.open.add(stream);
    c.track(
      this.serve(stream).catch((e) => c.logger.debug("stream failed", { error: errorText(e) })),
    );
  }

  private async serve(stream: Stream): Promise<void> {
    const c = this.core;
    const cancel = this.deadline(stream, c.tuning.tcpTimeoutMs);
    let counted = false;
    try {
      let msg: Awaited<ReturnType<typeof readStreamMessage>>;
      try {
        msg = await readStreamMessage(stream, c.security, { maxBytes: MAX_STREAM_BYTES });
      } catch (e) {
        counted = true;
        this.countFailure(e);
        // Like Go: an early end (EOF) gets no reply; anything else gets an errResp.
        if (e instanceof CodecError && !e.truncated) await this.replyError(stream, errorText(e));
        return;
      }
      const { type, reader } = msg;
      if (type === MessageType.pushPull) {
        c.counters.streamIn("pushPull");
        if (this.inflight >= MAX_PUSH_PULL_REQUESTS) {
          c.counters.inc("rejected");
          c.logger.warn("too many pending push/pull requests");
          return;
        }
        this.inflight++;
        try {
          const remote = await readPushPull(reader, {}, this.unchanged);
          await this.sendState(stream, remote.header.join, false); // echo the join flag
          cancel();
          this.close(stream);
          this.merge(remote.nodes, remote.userState, remote.header.join);
          c.counters.inc("pushPullsIn");
        } finally {
          this.inflight--;
        }
      } else if (type === MessageType.user) {
        c.counters.streamIn("user");
        const data = await readUserMsg(reader);
        c.delegate.notifyMsg?.(data);
      } else if (type === MessageType.ping) {
        c.counters.streamIn("ping");
        const m = decodeMessageBody(type, await reader.readMsgpack());
        if (m.type !== "ping" || (m.body.node !== "" && m.body.node !== c.name)) return;
        const ack = encodeMessage({ type: "ack", body: { seqNo: m.body.seqNo, payload: null } });
        await this.write(stream, ack, false);
      } else {
        c.counters.inc("malformed");
        c.logger.debug("invalid stream message type", { type });
      }
    } catch (e) {
      if (!counted) this.countFailure(e);
      if (e instanceof CodecError || e instanceof ProtocolError) {
        await this.replyError(stream, errorText(e)).catch(() => {});
      }
    } finally {
      cancel();
      this.close(stream);
    }
  }

  /**
   * Merges remote node states (after checking protocol compatibility): alive as alive,
   * left as left, dead or suspect as a local suspicion, then the delegate's state.
   */
  merge(remote: PushNodeState[], userState: Uint8Array, join: boolean): void {
    const c = this.core;
    this.verifyProtocol(remote);
    for (const r of remote) {
      const port = this.portOf(r.port);
      if (r.state === NodeStateCode.alive) {
        c.table.aliveNode(
          {
            incarnation: r.incarnation,
            node: r.name,
            addr: r.addr,
            port,
            meta: r.meta,
            vsn: r.vsn,
          },
          false,
        );
      } else if (r.state === NodeStateCode.left) {
        c.table.deadNode({ incarnation: r.incarnation, node: r.name, from: r.name });
      } else if (r.state === NodeStateCode.dead || r.state === NodeStateCode.suspect) {
        // Prefer suspecting over trusting a remote death verdict.
        c.table.suspectNode({ incarnation: r.incarnation, node: r.name, from: c.name });
      }
    }
    if (userState.length > 0 || c.delegate.mergeRemoteState !== undefined) {
      c.delegate.mergeRemoteState?.(userState, join);
    }
  }

  // Port 0 (protocol 1 peers) means "the receiver's port".
  private portOf(port: number): number {
    const c = this.core;
    return port === 0 || c.protocolVersion < 2 ? c.transport.address.port : port;
  }

  /** Rejects remote state whose versions fall outside what every alive node supports. */
  verifyProtocol(remote: PushNodeState[]): void {
    const table = this.core.table;
    if (this.ourBounds === undefined || this.ourBounds.version !== table.version) {
      this.ourBounds = { version: table.version, bounds: VersionBounds.of(table.nodes) };
    }
    this.ourBounds.bounds.verify(VersionBounds.of(remote), remote, table.nodes);
  }

  private async sendState(stream: Stream, join: boolean, label: boolean): Promise<void> {
    const c = this.core;
    const userState = c.delegate.localState?.(join) ?? EMPTY;
    const version = c.table.version;
    let last = this.lastState;
    if (
      last === undefined || last.version !== version || last.join !== join ||
      !sameBytes(last.userState, userState)
    ) {
      const nodes = this.localNodes();
      const body = c.compress
        ? compressPushPull({ join }, nodes, userState)
        : encodePushPull({ join }, nodes, userState);
      // A copy: a delegate may refill the buffer it returned.
      last = this.lastState = { version, join, userState: userState.slice(), body };
    }
    await writeStreamMessage(stream, last.body, {
      compress: false, // already in `body`
      writeLabel: label,
      ...c.security,
    });
  }

  private async write(stream: Stream, payload: Uint8Array, label: boolean): Promise<void> {
    const c = this.core;
    await writeStreamMessage(stream, payload, {
      compress: c.compress,
      writeLabel: label,
      ...c.security,
    });
  }

  private async replyError(stream: Stream, text: string): Promise<void> {
    const err = encodeMessage({ type: "err", body: { error: text } });
    await this.write(stream, err, false).catch(() => {});
  }

  private async dial(to: HostPort, timeoutMs: number): Promise<Stream> {
    let stream: Stream;
    try {
      stream = await this.core.transport.dial(to, Math.max(1, timeoutMs));
    } catch (e) {
      // a refusal is evidence of a crashed process (refusal.ts); a timeout is not
      if (e instanceof TransportError && e.code === "ECONNREFUSED") this.core.refused(to);
      throw e;
    }
    if (this.core.isClosed()) {
      stream.close();
      throw new Error("memberlist is shut down");
    }
    this.open.add(stream);
    return stream;
  }

  private close(stream: Stream): void {
    stream.close();
    this.open.delete(stream);
  }

  // Closing the stream at the deadline makes pending reads end, which fails the exchange.
  private deadline(stream: Stream, ms: number): () => void {
    return this.core.timers.after(ms, () => stream.close());
  }

  private countFailure(e: unknown): void {
    if (isRejection(e)) this.core.counters.inc("rejected");
    else if (e instanceof CodecError) this.core.counters.inc("malformed");
  }
}
