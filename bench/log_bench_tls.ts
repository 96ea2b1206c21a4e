/**
 * Throwaway TLS material for the encrypted runs of bench/log_bench.ts: a CA and one
 * certificate (server and client authentication, for 127.0.0.1 and localhost) signed by it,
 * made with `openssl` in a temp dir; and the fixed keyring key of the keyed runs.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=bench-ca",
  );
  run("req", ...ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=localhost");
  writeFileSync(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  run(
    "x509",
    "-req",
    "-in",
    "node.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "node.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  return {
    dir,
    ca: join(dir, "ca.pem"),
    cert: join(dir, "node.pem"),
    key: join(dir, "node.key"),
  };
}
