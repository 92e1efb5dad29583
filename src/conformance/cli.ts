#!/usr/bin/env node
// `npm run conformance -- FILE...`: runs vector files and ends with "N passed, M failed".

import { runFiles } from './runner';

function main(files: string[]): number {
  if (files.length === 0) {
    process.stderr.write('usage: npm run conformance -- FILE...\n');
    return 2;
  }
  const results = runFiles(files);
  for (const r of results) {
    if (!r.passed) process.stdout.write(`FAIL ${r.file}: ${r.name}\n  ${r.message}\n`);
  }
  const failed = results.filter((r) => !r.passed).length;
  process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`conformance: ${(error as Error).message}\n`);
  process.exitCode = 2;
}
