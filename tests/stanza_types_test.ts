/**
 * The typed `cluster` stanza: what must not compile is checked by the type checker (`deno check`
 * in scripts/check, tsc in the Node build): every `@ts-expect-error` below must meet an error,
 * or the check fails. Untyped input still gets the run-time validation, tested here on every
 * runtime.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Cluster,
  cluster,
  type ClusterStanza,
  clusterStanza,
  ConfigError,
  parseClusterConfig,
} from "../mod.ts";

/** Accepts a stanza at compile time only. */
function typed(stanza: ClusterStanza): ClusterStanza {
  return stanza;
}

function compileTimeChecks(node: Cluster): void {
  typed({ environment: "lan" });
  typed({ environment: "local", bind_address: "127.0.0.1", bind_port: 0, members: ["a:1"] });
  typed({ environment: "wan", autojoin: { nats: { url: ["nats://10.0.0.5:4222"] } } });
  typed({ environment: "lan", autojoin: { consul: { service: "response" } } }); // a plugin
  // @ts-expect-error: "lann" is not an environment
  typed({ environment: "lann" });
  // @ts-expect-error: environment is required
  typed({ bind_port: 3320 });
  // @ts-expect-error: a misspelt key
  typed({ environment: "lan", bind_prot: 3320 });
  // @ts-expect-error: a port is a number
  typed({ environment: "lan", memberlist_bind_port: "3322" });
  // @ts-expect-error: members are strings
  typed({ environment: "lan", members: [{ host: "10.0.0.2", port: 3322 }] });
  // @ts-expect-error: the NATS block needs a url
  typed({ environment: "lan", autojoin: { nats: { subject: "response" } } });
  // @ts-expect-error: a parsed file is unknown: it goes through clusterStanza() first
  void cluster(JSON.parse("{}") as unknown);
  void cluster(clusterStanza(JSON.parse('{"environment":"lan"}') as unknown));
  void cluster(undefined);
  // @ts-expect-error: emit is internal
  node.emit("error", new Error("x"));
  // @ts-expect-error: start is internal
  void node.start(undefined);
  // @ts-expect-error: the constructor is internal (use cluster())
  void new Cluster({});
}

describe("the typed stanza", () => {
  it("is only a compile-time help: the checks above are not run", () => {
    assert.equal(typeof compileTimeChecks, "function");
  });

  it("clusterStanza() returns valid untyped input as it is", () => {
    const input: unknown = JSON.parse('{"environment":"lan","members":["10.0.0.2"]}');
    assert.equal(clusterStanza(input), input);
    assert.equal(clusterStanza(undefined), undefined);
  });

  it("clusterStanza() throws the ConfigError parseClusterConfig() throws", () => {
    const input: unknown = { environment: "lann", bind_prot: 1 };
    const expected = (() => {
      try {
        parseClusterConfig(input);
      } catch (err) {
        return err;
      }
    })();
    assert.ok(expected instanceof ConfigError);
    assert.throws(() => clusterStanza(input), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues, expected.issues);
      assert.match(err.message, /cluster\.environment: expected one of "local", "lan", "wan"/);
      assert.match(err.message, /unknown key "bind_prot" \(did you mean "bind_port"\?\)/);
      return true;
    });
  });

  it("cluster() validates at run time what a JavaScript caller passes, typed or not", async () => {
    const untyped = { environment: "lann" } as unknown as ClusterStanza;
    await assert.rejects(cluster(untyped), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /cluster\.environment: expected one of/);
      return true;
    });
  });
});
