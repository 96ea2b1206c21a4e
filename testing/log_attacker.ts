// Attackers of the log port for the security tests: raw node:net sockets, a keyed client that
// knows (or guesses) a key, and a tampering proxy between two keyed nodes.
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { nodeNetwork } from "../transport/node.ts";
import type { HostPort, Stream, Transport } from "../transport/types.ts";
import { encodeFrame, type Frame, FrameDecoder, FrameType } from "../log/frames.ts";
import { encodeHeads, encodeHello, PROTOCOL_VERSION } from "../log/messages.ts";
import { dialKeyed, type LogKeys } from "../log/secure_handshake.ts";

/** A plaintext Hello frame. */
export function helloFrame(name: string, environment = "local"): Uint8Array {
  return encodeFrame(
    FrameType.Hello,
    encodeHello({ version: PROTOCOL_VERSION, environment, name }),
  );
}

/** An Ack frame claiming `origin` is held through `head`. */
export function ackFrame(origin: string, head: number): Uint8Array {
  return encodeFrame(FrameType.Ack, encodeHeads([[origin, head]]));
}

/**
 * Connects with a raw socket, writes `bytes`, and returns every byte the node sent until it
 * closed the connection (or `ms` passed: then `closed` is false).
 */
export function rawExchange(
  to: HostPort,
  bytes: Uint8Array,
  ms = 5000,
): Promise<{ received: Uint8Array; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const sock: Socket = connect(to.port, to.host);
    const done = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ received: Uint8Array.from(chunks.flatMap((c) => [...c])), closed });
    };
    const timer = setTimeout(() => done(false), ms);
    sock.on("connect", () => sock.write(bytes));
    sock.on("data", (c: Uint8Array) => chunks.push(new Uint8Array(c)));
    sock.on("close", () => done(true));
    sock.on("error", (err) => {
      if (chunks.length === 0 && !sock.writable) reject(err);
    });
  });
}

/** Frames a keyed client received before the node closed (or `ms` passed). */
export async function keyedExchange(
  to: HostPort,
  keys: LogKeys,
  asName: string,
  expected: string,
  frames: Uint8Array[],
  ms = 3000,
): Promise<{ frames: Frame[]; closed: boolean; transport: Transport }> {
  const transport = await nodeNetwork.bind({ host: "127.0.0.1", port: 0, packets: false });
  let stream: Stream;
  try {
    const raw: Stream = await transport.dial(to, 2000);
    const ctx = { name: asName, environment: "local", keys, onFault: () => {} };
    stream = (await dialKeyed(raw, ctx, expected)).stream;
  } catch (err) {
    await transport.close();
    throw err;
  }
  for (const f of frames) await stream.write(f);
  const decoder = new FrameDecoder(1 << 24);
  const got: Frame[] = [];
  let closed = false;
  const deadline = new Promise<null>((r) => setTimeout(() => r(null), ms));
  for (;;) {
    const chunk = await Promise.race([stream.read(), deadline]);
    if (chunk === null) {
      closed = true;
      break;
    }
    got.push(...decoder.push(chunk));
  }
  stream.close();
  return { frames: got, closed, transport };
}

/** What the proxy does to the dialer's records on one connection. */
export type Tamper = "modify" | "modify-large" | "replay" | "reorder" | "pass";

/**
 * A TCP proxy in front of a keyed node that parses the dialer's handshake messages and
 * records and tampers with them: the n-th connection gets `plan[n]` (then "pass").
 */
export class TamperProxy {
  readonly server: Server;
  readonly plan: Tamper[];
  #sockets = new Set<Socket>();
  connections = 0;

  private constructor(server: Server, plan: Tamper[]) {
    this.server = server;
    this.plan = plan;
  }

  /** Listens on 127.0.0.1:0 and forwards to `target`. */
  static start(target: HostPort, plan: Tamper[]): Promise<TamperProxy> {
    const server = createServer();
    const proxy = new TamperProxy(server, plan);
    server.on("connection", (client: Socket) => proxy.#onClient(client, target));
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(proxy)));
  }

  get address(): HostPort {
    return { host: "127.0.0.1", port: (this.server.address() as AddressInfo).port };
  }

  #onClient(client: Socket, target: HostPort): void {
    const mode = this.plan[this.connections++] ?? "pass";
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("close", () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on("error", () => {});
    }
    upstream.on("data", (c: Uint8Array) => client.write(c));
    let buf = new Uint8Array(0);
    let handshake = 2; // ClientHello and ClientProof precede the records
    let records = 0;
    let held: Uint8Array | undefined;
    let largeDone = false;
    client.on("data", (c: Uint8Array) => {
      const next = new Uint8Array(buf.length + c.length);
      next.set(buf);
      next.set(c, buf.length);
      buf = next;
      for (;;) {
        let size: number;
        if (handshake > 0) {
          if (buf.length < 7) return;
          size = 7 + ((buf[5] << 8) | buf[6]);
        } else {
          if (buf.length < 4) return;
          size = 4 + new DataView(buf.buffer, buf.byteOffset).getUint32(0);
        }
        if (buf.length < size) return;
        const unit = buf.slice(0, size);
        buf = buf.subarray(size);
        if (handshake > 0) {
          handshake--;
          upstream.write(unit);
          continue;
        }
        records++;
        // tamper with the second record (the first after Hello), when it comes
        if (records === 2 && mode === "modify") unit[unit.length - 20] ^= 1;
        // a record above 2 KiB (sealed by WebCrypto rather than node:crypto)
        if (mode === "modify-large" && !largeDone && unit.length > 4 + 2048 + 16) {
          unit[unit.length - 20] ^= 1;
          largeDone = true;
        }
        if (records === 2 && mode === "replay") upstream.write(unit);
        if (records === 2 && mode === "reorder") {
          held = unit;
          continue;
        }
        upstream.write(unit);
        if (held !== undefined) {
          upstream.write(held);
          held = undefined;
        }
      }
    });
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
