#!/usr/bin/env node
// The `dynamic-sampling` command line.

import { readFileSync } from 'node:fs';

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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'explain':
      return runExplain(rest[0] === '-' ? undefined : rest[0]);
    case 'serve':
      return runServe(rest);
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
