// `npm start`: samples generated traffic for the demo project with the native fast path and
// prints what was kept and dropped, per rule.

import { demoSamplingConfig, DEMO_ORGANIZATION_ID, DEMO_PROJECT_ID, DEMO_PUBLIC_KEY } from './demo/config';
import { transactionEnvelope, transactionEvent } from './demo/envelopes';
import { TrafficGenerator } from './demo/traffic';
import { DROP, KEEP, OUT, SamplingEngine } from './engine/engine';

function main(): void {
  const now = new Date();
  const config = demoSamplingConfig(now);
  const engine = new SamplingEngine();
  engine.setNow(now);
  engine.putProject(DEMO_PUBLIC_KEY, { projectId: DEMO_PROJECT_ID, organizationId: DEMO_ORGANIZATION_ID }, config);

  const traffic = new TrafficGenerator({ publicKey: DEMO_PUBLIC_KEY, seed: 7 });
  const total = Number(process.env.DEMO_EVENTS ?? 20_000);
  const envelopes: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    const trace = traffic.next();
    envelopes.push(transactionEnvelope(trace, transactionEvent(trace, traffic.random.hex32())));
  }

  // Counts per terminating rule (the last matched id) and per full rule chain.
  const perRule = new Map<string, { kept: number; dropped: number }>();
  let kept = 0;
  let dropped = 0;
  const started = process.hrtime.bigint();
  for (const envelope of envelopes) {
    const code = engine.sampleEnvelope(envelope, DEMO_PUBLIC_KEY);
    const matched = engine.matchedRuleIds.subarray(0, engine.result[OUT.matchedCount]);
    const key = matched.length === 0 ? 'no match' : Array.from(matched).join(' → ');
    const row = perRule.get(key) ?? { kept: 0, dropped: 0 };
    if (code === DROP) {
      row.dropped++;
      dropped++;
    } else {
      row.kept++;
      if (code === KEEP) kept++;
      else kept++;
    }
    perRule.set(key, row);
  }
  const elapsedNs = Number(process.hrtime.bigint() - started);

  const rulesById = new Map(config.rules.map((r) => [r.id, r]));
  process.stdout.write(`dynamic-sampling demo: ${total} transactions for project ${DEMO_PROJECT_ID} (key ${DEMO_PUBLIC_KEY})\n`);
  process.stdout.write(`config: ${config.rules.length} rules generated from biases at a 25% base rate\n\n`);
  process.stdout.write('matched rules (ids)                       kept  dropped  kept%\n');
  const rows = [...perRule.entries()].sort((a, b) => b[1].kept + b[1].dropped - (a[1].kept + a[1].dropped));
  for (const [chain, row] of rows) {
    const n = row.kept + row.dropped;
    process.stdout.write(`${chain.padEnd(40)} ${String(row.kept).padStart(6)} ${String(row.dropped).padStart(8)} ${((100 * row.kept) / n).toFixed(1).padStart(6)}\n`);
  }
  process.stdout.write('\nrules:\n');
  for (const [id, rule] of rulesById) {
    const v = rule.samplingValue as { type: string; value?: number; limit?: number };
    process.stdout.write(`  ${String(id).padStart(5)}  ${rule.type.padEnd(11)} ${v.type} ${v.value ?? v.limit}  ${JSON.stringify(rule.condition).slice(0, 90)}\n`);
  }
  process.stdout.write(
    `\nkept ${kept}, dropped ${dropped} (effective rate ${(kept / total).toFixed(3)}); ` +
      `${(elapsedNs / total).toFixed(0)} ns per decision on the envelope fast path\n`,
  );
}

main();
