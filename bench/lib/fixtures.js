'use strict';
// Envelopes captured from the real @sentry/node SDK, kept in bench/fixtures (gitignored) and
// regenerated when missing or when the capture inputs change (script, constants, SDK version).

const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DIR = path.join(ROOT, 'fixtures');
const CAPTURE = path.join(ROOT, 'capture', 'sentry-envelopes.js');

/** The captured kinds and how many distinct envelopes of each are cycled. */
const KINDS = {
  'tx-2kb': 4096,
  'tx-20kb': 1024,
  'tx-4kb': 1024,
  'tx-27kb': 1024,
  spans: 4096,
};

function inputsHash() {
  const hash = crypto.createHash('sha256');
  for (const file of [CAPTURE, path.join(__dirname, 'constants.js'), require.resolve('@sentry/node/package.json')]) {
    hash.update(fs.readFileSync(file));
  }
  // The traffic generator lives in the repository (dist/demo).
  for (const file of ['traffic.js', 'random.js']) hash.update(fs.readFileSync(path.join(ROOT, '..', 'dist', 'demo', file)));
  return hash.digest('hex').slice(0, 16);
}

function readFixture(file) {
  const data = fs.readFileSync(file);
  const count = data.readUInt32LE(0);
  const out = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const length = data.readUInt32LE(at);
    at += 4;
    // A copy per envelope, as a server would hold each request body.
    out.push(Buffer.from(data.subarray(at, at + length)));
    at += length;
  }
  return out;
}

function capture(kind, count, file) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CAPTURE, kind, String(count), file], { cwd: ROOT, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`capturing ${kind} envelopes failed: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

/** Loads every kind of captured envelope, capturing the missing or outdated ones first. */
async function loadEnvelopes(log) {
  const hash = inputsHash();
  const manifestFile = path.join(DIR, 'manifest.json');
  let manifest = {};
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch {
    manifest = {};
  }
  const stale = Object.entries(KINDS).filter(([kind, count]) => {
    const entry = manifest[kind];
    return entry === undefined || entry.hash !== hash || entry.count !== count || !fs.existsSync(path.join(DIR, `${kind}.bin`));
  });
  if (stale.length > 0) {
    log(`capturing envelopes with @sentry/node (${stale.map(([k]) => k).join(', ')}) into bench/fixtures ...`);
    const started = Date.now();
    const results = await Promise.all(stale.map(([kind, count]) => capture(kind, count, path.join(DIR, `${kind}.bin`))));
    for (const [i, [kind, count]] of stale.entries()) manifest[kind] = { hash, count, ...results[i] };
    fs.mkdirSync(DIR, { recursive: true });
    fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
    log(`  captured in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const envelopes = {};
  for (const kind of Object.keys(KINDS)) envelopes[kind] = readFixture(path.join(DIR, `${kind}.bin`));
  return { envelopes, manifest };
}

module.exports = { loadEnvelopes, KINDS };
