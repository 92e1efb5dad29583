// Fixtures of the control-plane tests: definitions, a hand-moved clock, silent logger, keys and a seeded random source.

import pino from 'pino';
import type { ControlPlaneOptions } from '../../src/control/control-plane';
import type { DefinitionsDocument, OrganizationDefinition, ProjectDefinition } from '../../src/control/definitions/types';

/** A clock tests move by hand (ms since the epoch), plus a monotonic view of it. */
export class TestClock {
  constructor(public t = Date.UTC(2024, 4, 1, 10, 0, 0)) {}
  readonly now = (): number => this.t;
  readonly monotonic = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const silentLogger = pino({ level: 'silent' });

/**
 * A control plane on `clock` whose tasks run only when the test runs them: counts written at once,
 * invalidations flushed by runTasks() rather than on a wall-clock countdown in the middle of a cycle.
 */
export function manualControlOptions(clock: TestClock): Partial<ControlPlaneOptions> {
  return {
    schedule: 'none',
    clock: clock.now,
    monotonic: clock.monotonic,
    logger: silentLogger,
    recorderFlushIntervalMs: 0,
    invalidationCountdownMs: 3_600_000,
  };
}

/** A 32-hex-character public key for a project and key index. */
export function keyFor(projectId: number, index = 0): string {
  return `${projectId.toString(16).padStart(8, '0')}${index.toString(16).padStart(4, '0')}`.padEnd(32, 'a');
}

export function projectDef(id: number, overrides: Partial<ProjectDefinition> = {}): ProjectDefinition {
  return {
    id,
    slug: `project-${id}`,
    platform: 'python',
    createdAt: '2023-01-01T00:00:00Z',
    publicKeys: [keyFor(id)],
    ...overrides,
  };
}

export function orgDef(id: number, projects: ProjectDefinition[], overrides: Partial<OrganizationDefinition> = {}): OrganizationDefinition {
  return { id, slug: `org-${id}`, createdAt: '2022-01-01T00:00:00Z', projects, ...overrides };
}

/** One organisation at a 10% target with five projects (ids 101..105), one with two keys. */
export function sampleDefinitions(overrides: Partial<OrganizationDefinition> = {}): DefinitionsDocument {
  return {
    organizations: [
      orgDef(
        1,
        [
          projectDef(101, { slug: 'api', publicKeys: [keyFor(101), { publicKey: keyFor(101, 1), numericId: 7 }] }),
          projectDef(102, { slug: 'web', platform: 'javascript' }),
          projectDef(103, { slug: 'worker' }),
          projectDef(104, { slug: 'billing' }),
          projectDef(105, { slug: 'admin' }),
        ],
        { targetSampleRate: 0.1, ...overrides },
      ),
    ],
  };
}

/** Deterministic random numbers (mulberry32). */
export class SeededRandom {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** 32 hex characters. */
  hex32(): string {
    let s = '';
    for (let i = 0; i < 4; i++) s += Math.floor(this.next() * 0x100000000).toString(16).padStart(8, '0');
    return s;
  }
  pick<T>(items: readonly T[], weights: readonly number[]): T {
    const total = weights.reduce((a, b) => a + b, 0);
    let r = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      r -= weights[i];
      if (r < 0) return items[i];
    }
    return items[items.length - 1];
  }
}
