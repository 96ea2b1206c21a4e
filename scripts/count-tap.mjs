// Counts leaf test results in TAP files (Deno's --reporter=tap and Node's tap reporter):
// a result line whose preceding line is a deeper-indented plan ("1..N") closes a suite of
// subtests and is not counted itself, so describe() blocks do not inflate the numbers.
// JUnit XML files (Bun's `bun test --reporter=junit`) count their <testcase> elements (suites
// are <testsuite>, so not counted either).
// Usage: node scripts/count-tap.mjs file.tap|file.xml... -> prints "<passed> <failed> <skipped>"
import { readFileSync } from "node:fs";

/** Adds the results of one JUnit XML document to the totals. */
function countJunit(text) {
  const testcase = /<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of text.matchAll(testcase)) {
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) failed++;
    else if (/<skipped\b/.test(body)) skipped++;
    else passed++;
  }
}

let passed = 0, failed = 0, skipped = 0;
for (const file of process.argv.slice(2)) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    continue;
  }
  if (/^\s*<\?xml|<testsuites\b/.test(text.slice(0, 500))) {
    countJunit(text);
    continue;
  }
  const lines = text.split("\n");
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
