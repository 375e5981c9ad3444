// After the end-to-end stage (passed, failed or killed at its time limit): ends whatever a test
// recorded in TWITCHER_E2E_PIDS and is still alive, and exits 1 naming it. A clean run leaves
// nothing, so anything found here is a harness bug worth failing the run for.
import { recordedUnits } from "./processes.mjs";

const file = process.argv[2];
const left = [];
for (const unit of recordedUnits(file)) {
  const members = unit.members();
  if (members.length === 0) continue;
  left.push(`${unit.label}: ${members.map((p) => p.pid).join(", ")}`);
  await unit.end(2000);
}
if (left.length > 0) {
  console.error(`e2e: processes outlived their tests and were ended now: ${left.join("; ")}`);
  process.exit(1);
}
