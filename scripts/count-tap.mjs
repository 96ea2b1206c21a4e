// Counts leaf test results in TAP files (Deno's --reporter=tap and Node's tap reporter):
// a result line whose preceding line is a deeper-indented plan ("1..N") closes a suite of
// subtests and is not counted itself, so describe() blocks do not inflate the numbers.
// Usage: node scripts/count-tap.mjs file.tap... -> prints "<passed> <failed> <skipped>"
import { readFileSync } from "node:fs";

let passed = 0, failed = 0, skipped = 0;
for (const file of process.argv.slice(2)) {
  let lines;
  try {
    lines = readFileSync(file, "utf8").split("\n");
  } catch {
    continue;
  }
  let prev = "";
  for (const line of lines) {
    const m = /^(\s*)(not ok|ok) \d+/.exec(line);
    if (m) {
      const plan = /^(\s*)1\.\.\d+/.exec(prev);
      const closesSuite = plan && plan[1].length > m[1].length;
      if (!closesSuite) {
        if (/# SKIP/i.test(line)) skipped++;
        else if (m[2] === "ok") passed++;
        else failed++;
      }
    }
    if (line.trim() !== "") prev = line;
  }
}
console.log(`${passed} ${failed} ${skipped}`);
