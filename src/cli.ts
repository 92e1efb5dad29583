#!/usr/bin/env node
// The `dynamic-sampling` command line.

import { readFileSync } from 'node:fs';

import { CredentialsFileError, DEFAULT_CREDENTIALS_FILE, loadOrCreateCredentials } from './configs/credentials';
import { explain, type EvaluateInput } from './engine/evaluate';
import { parseServeArgs, SERVE_USAGE } from './server/args';
import { ServerOptionsError } from './server/errors';
import { runServer } from './server/run';

const USAGE = `usage: dynamic-sampling <command>

commands:
  explain [FILE]   read one JSON object or JSON Lines of {config, rootConfig, dsc, event, now,
                   itemType?, rootProjectKnown?} from FILE (or standard input) and print one
                   JSON result per input: the decision, the rate, and which rules matched in
                   which stage with which factors
  serve [OPTIONS]  run the ingestion server: Sentry SDKs send envelopes to
                   POST /api/<projectId>/envelope/, kept envelopes go to the sink
  credentials [--file FILE] [--json]
                   create the Relay credentials (${DEFAULT_CREDENTIALS_FILE}, or FILE; also
                   DS_CREDENTIALS) when absent and show the relay id and public key: the key
                   is what a Sentry admin adds to the organization's trusted relays

serve ${SERVE_USAGE}`;

/** Splits input into documents: one JSON value, or one per non-empty line. */
export function readInputs(text: string): { line: number; value?: unknown; error?: string }[] {
  try {
    const whole = JSON.parse(text);
    if (whole !== null && typeof whole === 'object' && !Array.isArray(whole)) return [{ line: 1, value: whole }];
  } catch {
    // Not a single document: JSON Lines.
  }
  const inputs: { line: number; value?: unknown; error?: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      inputs.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (error) {
      inputs.push({ line: i + 1, error: `not valid JSON: ${(error as Error).message}` });
    }
  });
  return inputs;
}

function runExplain(file: string | undefined): number {
  const text = readFileSync(file ?? 0, 'utf8');
  let status = 0;
  for (const input of readInputs(text)) {
    if (input.error !== undefined || input.value === null || typeof input.value !== 'object') {
      process.stdout.write(`${JSON.stringify({ line: input.line, error: input.error ?? 'expected a JSON object' })}\n`);
      status = 1;
      continue;
    }
    try {
      process.stdout.write(`${JSON.stringify(explain(input.value as EvaluateInput))}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ line: input.line, error: (error as Error).message })}\n`);
      status = 1;
    }
  }
  return status;
}

async function runServe(argv: string[]): Promise<number> {
  try {
    const args = parseServeArgs(argv);
    if (args.help) {
      process.stdout.write(`usage: dynamic-sampling serve [OPTIONS]\n\n${SERVE_USAGE}`);
      return 0;
    }
    await runServer(args);
    return 0;
  } catch (error) {
    if (!(error instanceof ServerOptionsError)) throw error;
    process.stderr.write(`dynamic-sampling serve: ${error.message}\n\nusage: dynamic-sampling serve [OPTIONS]\n\n${SERVE_USAGE}`);
    return 2;
  }
}

function runCredentials(argv: string[]): number {
  let file = process.env.DS_CREDENTIALS || DEFAULT_CREDENTIALS_FILE;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') json = true;
    else if (arg === '--file' && argv[i + 1] !== undefined) file = argv[++i];
    else if (arg.startsWith('--file=')) file = arg.slice('--file='.length);
    else {
      process.stderr.write(`dynamic-sampling credentials: unexpected argument "${arg}"\n\n${USAGE}`);
      return 2;
    }
  }
  try {
    const { credentials, created } = loadOrCreateCredentials(file);
    if (json) {
      process.stdout.write(`${JSON.stringify({ file, created, id: credentials.id, public_key: credentials.publicKey })}\n`);
    } else {
      process.stdout.write(
        `${created ? 'created' : 'existing'} credentials in ${file}\n` +
          `  relay id:   ${credentials.id}\n` +
          `  public key: ${credentials.publicKey}\n` +
          `add the public key to the organization's trusted relays in Sentry (Settings > Relay), then start with --upstream URL --credentials ${file}\n`,
      );
    }
    return 0;
  } catch (error) {
    if (!(error instanceof CredentialsFileError)) throw error;
    process.stderr.write(`dynamic-sampling credentials: ${error.message}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'explain':
      return runExplain(rest[0] === '-' ? undefined : rest[0]);
    case 'serve':
      return runServe(rest);
    case 'credentials':
      return runCredentials(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`dynamic-sampling: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      process.stderr.write(`dynamic-sampling: ${error.message}\n`);
      process.exitCode = 1;
    },
  );
}
