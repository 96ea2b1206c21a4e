/**
 * Which runtime runs the tests, and how to start the project's CLI with it: `deno run -A cli/main.ts`
 * on the sources under Deno, `node cli/main.js` on the tsc build under Node.
 */
import process from "node:process";
import { fileURLToPath } from "node:url";

/** True under Deno (its node:process reports a deno version). */
export const isDeno: boolean = typeof process.versions.deno === "string";

/** Command and leading arguments that run the CLI with the current runtime. */
export function cliCommand(): { cmd: string; args: string[] } {
  if (isDeno) {
    return {
      cmd: process.execPath,
      args: ["run", "-A", fileURLToPath(new URL("../cli/main.ts", import.meta.url))],
    };
  }
  return {
    cmd: process.execPath,
    args: [fileURLToPath(new URL("../cli/main.js", import.meta.url))],
  };
}
