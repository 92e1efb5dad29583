'use strict';
// Memory held by N compiled project configs, measured in a fresh process with --expose-gc:
//
//   node --expose-gc bench/lib/memory-probe.js <native|typescript-peer> <projects>
//
// Each project gets its own typical config (distinct release names, so nothing can be shared).
// Prints one JSON line: the growth of RSS and of the V8 heap after a full GC.

const { BENCH_ORGANIZATION_ID } = require('./constants');
const { generatedConfig } = require('./workloads');

function settle() {
  for (let i = 0; i < 4; i++) global.gc();
}

function main() {
  const [path, projectsText] = process.argv.slice(2);
  const projects = Number(projectsText);
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const template = JSON.stringify(generatedConfig({ named: 20 }));
  const configs = [];
  const keys = [];
  for (let p = 0; p < projects; p++) {
    configs.push(template.replaceAll('shop@1.3.0', `shop-${p}@1.3.0`).replaceAll('shop@1.2.0', `shop-${p}@1.2.0`));
    keys.push((0x1000 + p).toString(16).padStart(32, 'a'));
  }
  let engine;
  if (path === 'native') {
    const { SamplingEngine } = require('../../dist/engine/engine');
    engine = new SamplingEngine();
  } else if (path === 'typescript-peer') {
    const { PeerEngine } = require('../.build/peers/index.js');
    engine = new PeerEngine();
  } else {
    throw new Error(`unknown path ${path}`);
  }
  // Warm up the code paths (and their allocations) with one throwaway project.
  engine.putProject('f'.repeat(32), { projectId: 1, organizationId: BENCH_ORGANIZATION_ID }, template);
  settle();
  const before = process.memoryUsage();
  for (let p = 0; p < projects; p++) {
    engine.putProject(keys[p], { projectId: 1000 + p, organizationId: BENCH_ORGANIZATION_ID }, configs[p]);
  }
  settle();
  const after = process.memoryUsage();
  process.stdout.write(
    JSON.stringify({
      path,
      projects,
      rssBytes: after.rss - before.rss,
      heapBytes: after.heapUsed - before.heapUsed,
      externalBytes: after.external - before.external,
      configJsonBytes: template.length,
    }) + '\n',
  );
}

main();
