/**
 * Mutual TLS on a log connection (node:tls, which Deno, Node and Bun all provide): both sides
 * present a certificate signed by the cluster's CA and verify the other's. TLS authenticates
 * membership of the cluster (a certificate of its CA); the node name still comes from the log
 * handshake and must be a current member, as with a keyring. Host names in certificates are
 * not checked: addresses change behind NAT and with advertised addresses.
 *
 * The TLS socket runs over the transport's {@link Stream} through a small Duplex adapter, so
 * the log keeps one transport for every mode.
 *
 * @module
 */
import { ClusterError } from "../errors/mod.ts";
import type { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { connect, createServer, type TLSSocket } from "node:tls";
import type { HostPort, Stream } from "../transport/mod.ts";

/**
 * PEM material of mutual TLS: the CA that signs every member's certificate, and this node's
 * certificate and private key.
 *
 * @example
 * ```ts
 * const tls: LogTls = { ca: readFileSync("ca.pem", "utf8"), cert: "...", key: "..." };
 * ```
 */
export interface LogTls {
  /** PEM of the CA (or CAs) whose certificates are trusted. */
  readonly ca: string;
  /** PEM of this node's certificate (usable for both server and client authentication). */
  readonly cert: string;
  /** PEM of this node's private key. */
  readonly key: string;
}

/** A TLS handshake that failed (untrusted certificate, no certificate, not TLS at all). */
export class TlsHandshakeError extends ClusterError<"tls"> {
  /**
   * Creates an instance.
   * @param message details
   */
  constructor(message: string) {
    super("tls", message);
  }
}

// queued plaintext above which the TLS socket is paused (backpressure to the peer)
const HIGH_WATER = 1 << 20;

/** A Duplex over a transport stream, for node:tls to run on. */
function toDuplex(s: Stream): Duplex {
  let reading = false;
  const d: Duplex = new Duplex({
    read() {
      if (reading) return;
      reading = true;
      void (async () => {
        for (;;) {
          const c = await s.read();
          if (c === null) {
            d.push(null);
            return;
          }
          if (!d.push(c)) break;
        }
        reading = false;
      })();
    },
    write(chunk: Buffer, _enc, cb) {
      s.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)).then(
        () => cb(),
        (err: Error) => cb(err),
      );
    },
    final(cb) {
      s.close();
      cb();
    },
    destroy(err, cb) {
      s.close();
      cb(err);
    },
  });
  return d;
}

/** A {@link Stream} over an established TLS socket. */
class TlsStream implements Stream {
  readonly remote: HostPort;
  #sock: TLSSocket;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #readers: ((c: Uint8Array | null) => void)[] = [];
  #ended = false;

  constructor(sock: TLSSocket, remote: HostPort) {
    this.#sock = sock;
    this.remote = remote;
    sock.on("data", (data: Buffer) => {
      const c = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const r = this.#readers.shift();
      if (r) return r(c);
      this.#chunks.push(c);
      this.#queued += c.length;
      if (this.#queued > HIGH_WATER) sock.pause();
    });
    const end = () => {
      this.#ended = true;
      for (const r of this.#readers.splice(0)) r(null);
    };
    sock.on("end", end);
    sock.on("error", end);
    sock.on("close", end);
  }

  read(): Promise<Uint8Array | null> {
    const c = this.#chunks.shift();
    if (c !== undefined) {
      this.#queued -= c.length;
      if (this.#queued <= HIGH_WATER / 4 && this.#sock.isPaused()) this.#sock.resume();
      return Promise.resolve(c);
    }
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#readers.push(resolve));
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#ended || this.#sock.destroyed) return Promise.reject(new Error("TLS stream closed"));
    return new Promise((resolve, reject) => {
      this.#sock.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): void {
    this.#sock.destroy();
  }
}

/**
 * Acceptor side: requires and verifies the dialer's certificate.
 *
 * @example
 * ```ts
 * const secured = await tlsAccept(tcp, tls);
 * ```
 * @param stream the accepted connection
 * @param tls CA, certificate, key
 * @throws {TlsHandshakeError} for an untrusted, missing or non-TLS peer
 */
export function tlsAccept(stream: Stream, tls: LogTls): Promise<Stream> {
  const server = createServer({ ...tls, requestCert: true, rejectUnauthorized: true });
  return new Promise((resolve, reject) => {
    server.once("secureConnection", (sock: TLSSocket) => {
      if (!sock.authorized) {
        sock.destroy();
        return reject(new TlsHandshakeError(`untrusted peer: ${sock.authorizationError}`));
      }
      resolve(new TlsStream(sock, stream.remote));
    });
    server.once("tlsClientError", (err: Error) => {
      stream.close();
      reject(new TlsHandshakeError(err.message));
    });
    server.emit("connection", toDuplex(stream));
  });
}

/**
 * Dialer side: presents this node's certificate and verifies the acceptor's against the CA.
 *
 * @example
 * ```ts
 * const secured = await tlsDial(tcp, tls);
 * ```
 * @param stream the fresh connection
 * @param tls CA, certificate, key
 * @throws {TlsHandshakeError} when the acceptor's certificate is not trusted
 */
export function tlsDial(stream: Stream, tls: LogTls): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const sock = connect({
      socket: toDuplex(stream),
      ...tls,
      rejectUnauthorized: true,
      // names are bound by the log handshake and membership, not by certificate host names
      checkServerIdentity: () => undefined,
    });
    sock.once("secureConnect", () => resolve(new TlsStream(sock, stream.remote)));
    sock.once("error", (err: Error) => {
      sock.destroy();
      reject(new TlsHandshakeError(err.message));
    });
  });
}
