'use strict';
// Loads the TypeScript peer (bench/peers), compiling it into bench/.build with the project's
// TypeScript when the sources are newer than the output.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const BENCH = path.join(__dirname, '..');
const SOURCES = path.join(BENCH, 'peers');
const OUT = path.join(BENCH, '.build', 'peers');

function newestMtime(dir, ext) {
  let newest = 0;
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(ext)) newest = Math.max(newest, fs.statSync(path.join(dir, name)).mtimeMs);
  }
  return newest;
}

function loadPeer(log) {
  const fresh = fs.existsSync(path.join(OUT, 'index.js')) && newestMtime(OUT, '.js') >= newestMtime(SOURCES, '.ts');
  if (!fresh) {
    log('compiling the TypeScript peer (bench/peers → bench/.build) ...');
    const tsc = require.resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', path.join(BENCH, 'tsconfig.json')], { stdio: 'inherit' });
  }
  return require(path.join(OUT, 'index.js'));
}

module.exports = { loadPeer };
