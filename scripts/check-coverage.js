#!/usr/bin/env node
// Coverage gate: every protocol contract (contracts/, test fixtures excluded by .solcover.js) must have
// 100% of its lines and branches covered. Reads the json-summary that `hardhat coverage` writes.
const fs = require("node:fs");
const path = require("node:path");

const REQUIRED = { lines: 100, branches: 100 };
const summaryPath = path.join(__dirname, "..", "coverage", "coverage-summary.json");
if (!fs.existsSync(summaryPath)) {
  console.error(`coverage gate: ${summaryPath} is missing; run "hardhat coverage" first`);
  process.exit(1);
}
const summary = JSON.parse(fs.readFileSync(summaryPath, "utf8"));
let failed = false;
for (const [file, metrics] of Object.entries(summary)) {
  if (file === "total") continue;
  for (const [metric, required] of Object.entries(REQUIRED)) {
    const { pct, covered, total } = metrics[metric];
    if (total > 0 && pct < required) {
      console.error(
        `coverage gate: ${path.relative(process.cwd(), file)} ${metric} ${pct}% (${covered}/${total}) < ${required}%`,
      );
      failed = true;
    }
  }
}
// Name every uncovered branch (file:line, which arm) so a failing gate says where to look.
const detailPath = path.join(__dirname, "..", "coverage.json");
if (failed && fs.existsSync(detailPath)) {
  const detail = JSON.parse(fs.readFileSync(detailPath, "utf8"));
  for (const [file, data] of Object.entries(detail)) {
    for (const [id, counts] of Object.entries(data.b ?? {})) {
      const branch = data.branchMap[id];
      counts.forEach((count, arm) => {
        if (count > 0) return;
        const line = branch.locations?.[arm]?.start?.line ?? branch.line;
        console.error(
          `coverage gate: uncovered ${branch.type} branch, arm ${arm}: ${path.relative(process.cwd(), file)}:${line}`,
        );
      });
    }
  }
}
const t = summary.total;
console.log(`coverage gate: lines ${t.lines.pct}%, branches ${t.branches.pct}%, functions ${t.functions.pct}%`);
if (failed) process.exit(1);
console.log("coverage gate: passed (100% lines and branches)");
