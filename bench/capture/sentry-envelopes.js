'use strict';
// Captures real Sentry envelopes from the real @sentry/node SDK, with an in-memory transport (no
// network: the DSN points at 127.0.0.1 and the transport only records the serialized bytes).
// Trace ids, releases, environments and transaction names come from the repository's seeded
// traffic generator. Runs in its own process (the SDK installs OpenTelemetry hooks that must not
// slow the benchmark process down).
//
//   node bench/capture/sentry-envelopes.js <kind> <count> <out-file>
//
// kind: `tx-2kb` (transaction, a few spans), `tx-20kb` (transaction, many spans, breadcrumbs,
// contexts, request, user), `spans` (streamed spans: the SDK's default trace lifecycle).
// The output file holds `u32 count` then `u32 length, bytes` per envelope (little-endian).

const fs = require('node:fs');
const path = require('node:path');
const Sentry = require('@sentry/node');
const { TrafficGenerator } = require('../../dist/demo/traffic');
const { SeededRandom } = require('../../dist/demo/random');
const { BENCH_PUBLIC_KEY, BENCH_PROJECT_ID, TRAFFIC } = require('../lib/constants');

const KINDS = {
  'tx-2kb': { lifecycle: 'static', spans: 2, breadcrumbs: 0, rich: false, seed: 2 },
  'tx-20kb': { lifecycle: 'static', spans: 34, breadcrumbs: 30, rich: true, seed: 20 },
  'tx-4kb': { lifecycle: 'static', spans: 5, breadcrumbs: 2, rich: true, seed: 4 },
  'tx-27kb': { lifecycle: 'static', spans: 46, breadcrumbs: 40, rich: true, seed: 27 },
  spans: { lifecycle: 'stream', spans: 3, breadcrumbs: 0, rich: false, seed: 3 },
};

const OPS = [
  ['db.query', (i, r) => `SELECT id, name, price FROM products WHERE category_id = $1 AND id > $2 LIMIT ${10 + (i % 5)} -- ${r.hex16()}`],
  ['http.client', (i) => `GET https://inventory.internal.example.com/v2/items/${1000 + i}?include=stock,price`],
  ['cache.get', (i) => `cart:session:${i}:items`],
  ['function', (i) => `render.productCard.${i}`],
];

async function main() {
  const [kind, countText, outFile] = process.argv.slice(2);
  const spec = KINDS[kind];
  if (spec === undefined || !outFile) throw new Error('usage: sentry-envelopes.js <tx-2kb|tx-4kb|tx-20kb|tx-27kb|spans> <count> <out-file>');
  const count = Number(countText);
  const traffic = new TrafficGenerator({ ...TRAFFIC, seed: TRAFFIC.seed + spec.seed });
  const random = new SeededRandom(1000 + spec.seed);
  const captured = [];
  let nextEventId = '';

  Sentry.init({
    dsn: `http://${BENCH_PUBLIC_KEY}@127.0.0.1:9/${BENCH_PROJECT_ID}`,
    release: 'shop@1.0.0',
    environment: 'production',
    tracesSampleRate: 1.0,
    traceLifecycle: spec.lifecycle,
    defaultIntegrations: false,
    sendDefaultPii: true,
    // Seeded event ids: transaction rules draw their random value from the event id.
    beforeSendTransaction: spec.lifecycle === 'static' ? (event) => ({ ...event, event_id: nextEventId }) : undefined,
    transportOptions: { bufferSize: 1 << 20 },
    transport: (options) =>
      Sentry.createTransport(options, async (request) => {
        captured.push(Buffer.from(request.body));
        return { statusCode: 200 };
      }),
  });
  const options = Sentry.getClient().getOptions();

  for (let k = 0; k < count; k++) {
    const shape = traffic.next();
    // The DSC and the event take release and environment from the client options.
    options.release = shape.release;
    options.environment = shape.environment;
    nextEventId = random.hex32();
    Sentry.withScope((scope) => {
      scope.setPropagationContext({ traceId: shape.traceId, sampleRand: random.next() });
      scope.setTag('region', random.pick(['eu-west-1', 'us-east-1', 'ap-south-1']));
      if (spec.rich) {
        scope.setUser({ id: `user-${random.int(100000)}`, ip_address: `10.${random.int(256)}.${random.int(256)}.${random.int(256)}` });
        scope.setTag('tenant', `tenant-${random.int(500)}`);
        scope.setContext('app', { app_name: 'shop', app_version: shape.release, build_type: 'release' });
        scope.setContext('cloud_resource', { 'cloud.provider': 'aws', 'cloud.region': 'eu-west-1', 'host.id': random.hex16() });
        scope.setSDKProcessingMetadata({
          normalizedRequest: {
            method: 'GET',
            url: `https://shop.example.com${shape.transaction.replace('{id}', String(random.int(1e6)))}`,
            query_string: 'page=2&sort=price',
            headers: {
              'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
              accept: 'application/json',
              'accept-language': 'en-GB,en;q=0.9',
              host: 'shop.example.com',
            },
          },
        });
        for (let b = 0; b < spec.breadcrumbs; b++) {
          scope.addBreadcrumb({
            category: b % 3 === 0 ? 'console' : 'http',
            level: 'info',
            message: b % 3 === 0 ? `cache miss for key cart:${random.hex16()}` : undefined,
            data: b % 3 === 0 ? undefined : { url: `https://inventory.internal.example.com/v2/items/${b}`, method: 'GET', status_code: 200 },
          });
        }
      }
      Sentry.startSpan({ name: shape.transaction, op: 'http.server', attributes: { 'http.request.method': 'GET' } }, () => {
        for (let i = 0; i < spec.spans; i++) {
          const [op, describe] = OPS[i % OPS.length];
          Sentry.startSpan({ name: describe(i, random), op, attributes: spec.rich ? { 'db.system': 'postgresql', 'server.address': 'db-1' } : undefined }, () => {});
        }
      });
    });
    if (k % 256 === 255) await Sentry.flush(10_000);
  }
  await Sentry.flush(10_000);
  await Sentry.close(10_000);

  const total = captured.reduce((n, b) => n + b.length, 0);
  const out = Buffer.alloc(4 + captured.length * 4 + total);
  let at = out.writeUInt32LE(captured.length, 0);
  for (const b of captured) {
    at = out.writeUInt32LE(b.length, at);
    at += b.copy(out, at);
  }
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(`${outFile}.tmp`, out);
  fs.renameSync(`${outFile}.tmp`, outFile);
  process.stdout.write(JSON.stringify({ kind, envelopes: captured.length, averageBytes: Math.round(total / captured.length), sdk: Sentry.SDK_VERSION }) + '\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
