/**
 * Throwaway PKI for TLS tests and benchmarks: a CA and certificates it signs (P-256, usable
 * for both server and client authentication), made with the `openssl` command in a directory.
 *
 * ```ts
 * makeCa(dir, "ca");
 * const a = issueCert(dir, "ca", "a"); // { ca_file, cert_file, key_file }
 * ```
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
const openssl = (dir: string, ...args: string[]) =>
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

/** Makes `<name>.key` and `<name>.pem`, a self-signed CA, in `dir`. */
export function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  );
}

/** PEM file paths of one node, as the stanza's `tls` block takes them. */
export interface NodeCert {
  ca_file: string;
  cert_file: string;
  key_file: string;
}

/** Makes `<name>.key` and `<name>.pem` signed by the CA `ca` (valid for 127.0.0.1 and localhost). */
export function issueCert(dir: string, ca: string, name: string): NodeCert {
  openssl(
    dir,
    "req",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  );
  writeFileSync(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  return {
    ca_file: join(dir, `${ca}.pem`),
    cert_file: join(dir, `${name}.pem`),
    key_file: join(dir, `${name}.key`),
  };
}
