// `npm run fidelity`: the organisation's kept rate against its target, cycle by cycle, per pipeline and budget mode, with and without a release, runs one window apart and back to back.

import { Count, formatTable, percent, runFidelity, type FidelityOptions, type FidelityResult } from './run';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(process.argv[i + 1])}`);
  return n;
}

/** `--name a` → ['a'] (checked against `allowed`); absent → every allowed value. */
function choice<T extends string>(name: string, allowed: readonly T[]): T[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return [...allowed];
  const value = process.argv[i + 1];
  if (!allowed.includes(value as T)) throw new Error(`--${name}: expected ${allowed.join(' or ')}, got ${JSON.stringify(value)}`);
  return [value as T];
}

async function main(): Promise<void> {
  const cycles = flag('cycles', 8);
  const rootsPerCycle = flag('roots', 3000);
  const started = Date.now();
  const pipelines = choice<FidelityOptions['pipeline']>('pipeline', ['per-org', 'classic']);
  const budgets = choice<FidelityOptions['rateBudget']>('budget', ['predictive', 'feedback']);
  for (const pipeline of pipelines) {
    for (const rateBudget of budgets) {
      for (const cycleMinutes of [5, 1]) {
        const rows: Array<[string, FidelityResult]> = [];
        for (const release of [true, false]) {
          rows.push([release ? 'with a release' : 'without', await runFidelity({ pipeline, rateBudget, release, cycleMinutes, cycles, rootsPerCycle })]);
        }
        const withRelease = rows[0][1];
        const health = (r: FidelityResult) => r.cycles.map((c) => `${c.healthTransactions.appliedRate.toFixed(3)}/${c.healthSpans.appliedRate.toFixed(3)}`).join(' ');
        const spacing = cycleMinutes === 5 ? 'one 5-minute window apart' : 'back to back (1 minute of traffic each)';
        console.log(`\n${pipeline} pipeline, ${rateBudget} budget, task runs ${spacing}: kept rate vs target ${withRelease.options.target}, ${rootsPerCycle} roots per cycle`);
        console.log(formatTable(rows));
        console.log(`health checks of the big project, sample rate of transactions/spans per cycle: ${health(withRelease)}`);
        const last = withRelease.cycles.slice(1);
        const small = [...withRelease.ideal.projects].filter(([id]) => id !== 201).map(([id, ideal]) => {
          const kept = Count.sum(last.map((c) => c.projects.get(id)!)).appliedRate;
          return `${id} ${kept.toFixed(3)} (ideal ${ideal.toFixed(3)})`;
        });
        const rare = Count.sum(last.map((c) => c.rare)).appliedRate;
        console.log(
          `with a release, cycles 2..: small projects' rate ${small.join(', ')}; rare transactions ${rare.toFixed(3)} (ideal ${withRelease.ideal.rare.toFixed(3)}); worst deviation ${percent(Math.max(...last.map((c) => Math.abs(c.deviation))))}`,
        );
      }
    }
  }
  console.log(`\n${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
