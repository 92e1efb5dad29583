// Project configs from a local JSON or YAML file, reloaded when the file changes.

import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { stringify as toYaml } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectConfigService, type ProjectConfigServiceOptions } from '../src/configs';
import { ManualClock, ValidatingInstaller, keyOf, projectState, samplingConfig, waitFor } from './helpers/upstream';

const silent = pino({ level: 'silent' });

describe('project configs from a file', () => {
  let dir: string;
  let installer: ValidatingInstaller;
  let clock: ManualClock;
  const services: ProjectConfigService[] = [];
  const a = keyOf(1);
  const b = keyOf(2);

  function service(file: ProjectConfigServiceOptions['source'], extra: Partial<ProjectConfigServiceOptions> = {}): ProjectConfigService {
    const s = new ProjectConfigService({ source: file, installer, logger: silent, now: clock.now, sweepInterval: 20, ...extra });
    services.push(s);
    return s;
  }

  function configs(rateA: number, rateB?: number): Record<string, unknown> {
    const out: Record<string, unknown> = { [a]: projectState(a, 1, { sampling: samplingConfig(rateA) }) };
    if (rateB !== undefined) out[b] = projectState(b, 2, { sampling: samplingConfig(rateB) });
    return { configs: out };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ds-configs-'));
    installer = new ValidatingInstaller();
    clock = new ManualClock();
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a JSON file and hands every config to the installer without being asked', async () => {
    const path = join(dir, 'projects.json');
    writeFileSync(path, JSON.stringify(configs(0.25, 0.5)));
    const s = service({ file: path });
    await waitFor(() => installer.configs.size === 2, 'both configs pushed');
    expect(installer.rateOf(a)).toBe(0.25);
    expect(s.get(b)).toMatchObject({ state: 'fresh', info: { publicKey: b, projectId: 2, organizationId: 1 } });
    expect(await s.prefetch([keyOf(3)])).toEqual({ [keyOf(3)]: 'disabled' }); // not in the file
  });

  it('loads a YAML file', async () => {
    const path = join(dir, 'projects.yaml');
    writeFileSync(path, toYaml(configs(0.125)));
    const s = service({ file: path });
    expect(await s.prefetch([a])).toEqual({ [a]: 'fresh' });
    expect(installer.rateOf(a)).toBe(0.125);
  });

  it('reloads when the file changes (fs.watch), including replacement by rename, and removes keys taken out', async () => {
    const path = join(dir, 'projects.json');
    writeFileSync(path, JSON.stringify(configs(0.1, 0.2)));
    const s = service({ file: { path, pollInterval: 60_000 } });
    await waitFor(() => installer.configs.size === 2, 'loaded');
    writeFileSync(path, JSON.stringify(configs(0.3, 0.2)));
    await waitFor(() => installer.rateOf(a) === 0.3, 'reloaded after write');
    expect(installer.count('put', b)).toBe(1); // unchanged keys are not handed over again
    const tmp = join(dir, 'projects.json.tmp');
    writeFileSync(tmp, JSON.stringify(configs(0.4)));
    renameSync(tmp, path);
    await waitFor(() => installer.rateOf(a) === 0.4 && !installer.configs.has(b), 'reloaded after rename');
    expect(s.get(b)).toEqual({ state: 'disabled' });
  });

  it('falls back to polling when watching is off', async () => {
    const path = join(dir, 'projects.yml');
    writeFileSync(path, toYaml(configs(0.1)));
    service({ file: { path, watch: false, pollInterval: 30 } });
    await waitFor(() => installer.rateOf(a) === 0.1, 'loaded');
    writeFileSync(path, toYaml(configs(0.9)));
    await waitFor(() => installer.rateOf(a) === 0.9, 'reloaded by polling');
  });

  it('keeps the previous configs when the file turns bad, and reports it', async () => {
    const path = join(dir, 'projects.json');
    writeFileSync(path, JSON.stringify(configs(0.1)));
    const s = service({ file: { path, pollInterval: 30 } });
    await waitFor(() => installer.rateOf(a) === 0.1, 'loaded');
    writeFileSync(path, '{"configs": {"broken": ');
    const deadline = Date.now() + 3000;
    while (!/parse_failures_total\{kind="file"\} [1-9]/.test(await s.registry.metrics())) {
      if (Date.now() > deadline) throw new Error('file parse failure not reported');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(installer.rateOf(a)).toBe(0.1);
    expect(s.get(a).state).toBe('fresh');
    writeFileSync(path, JSON.stringify({ configs: { [a]: { projectId: 'nope' } } }));
    await waitFor(() => s.get(a).error !== undefined, 'bad entry reported');
    expect(installer.rateOf(a)).toBe(0.1); // an unparsable entry never replaces a good config
  });

  it('a file missing at start makes keys failed until it appears', async () => {
    const path = join(dir, 'later.json');
    const s = service({ file: { path, pollInterval: 30 } });
    expect(await s.prefetch([a])).toEqual({ [a]: 'failed' });
    expect(s.get(a).error).toMatch(/FileSourceError/);
    writeFileSync(path, JSON.stringify(configs(0.6)));
    await waitFor(() => s.stateOf(a) === 'fresh' && installer.rateOf(a) === 0.6, 'loaded once the file exists');
  });

  it('expiry applies to file configs too: a stale one is re-read from the file', async () => {
    const path = join(dir, 'projects.json');
    writeFileSync(path, JSON.stringify(configs(0.1)));
    const s = service({ file: { path, watch: false, pollInterval: 60_000 } });
    await waitFor(() => s.stateOf(a) === 'fresh', 'loaded');
    clock.advance(300_000);
    expect(s.get(a).state).toBe('stale');
    await waitFor(() => s.stateOf(a) === 'fresh', 'fresh again');
  });
});
