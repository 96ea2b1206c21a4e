/**
 * Throwaway TLS material for the encrypted runs of bench/log_bench.ts: a CA and one
 * certificate (server and client authentication, for 127.0.0.1 and localhost) signed by it,
 * made with `openssl` in a temp dir; and the fixed keyring key of the keyed runs.
 *
 * @module
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueCert, makeCa } from "../testing/tls_certs.ts";

/** Paths of the generated PEM files. */
export interface BenchCerts {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

/** The keyring key of the keyed runs (a benchmark needs no secret). */
export const BENCH_KEY: Uint8Array = new Uint8Array(32).map((_, i) => i * 7 + 1);

/** Makes a CA and a certificate for 127.0.0.1 in a fresh temp dir. */
export function makeBenchCerts(): BenchCerts {
  const dir = mkdtempSync(join(tmpdir(), "log-bench-tls-"));
  makeCa(dir, "bench-ca");
  const c = issueCert(dir, "bench-ca", "localhost");
  return { dir, ca: c.ca_file, cert: c.cert_file, key: c.key_file };
}
