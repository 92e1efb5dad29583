// Counts of trace roots in time buckets (per minute and per hour), written and queried through the KeyValueStore.

import type { HashIncrement, KeyValueStore } from '../store/kv';
import { HOUR_MS, MINUTE_MS } from '../state/keys';

export type Decision = 'keep' | 'drop';

/** Minute buckets are kept this long (the tasks look back at most an hour). */
export const MINUTE_BUCKET_TTL_MS = 2 * HOUR_MS;
/** Hour buckets (sliding window, 24 h by default) are kept this long. */
export const HOUR_BUCKET_TTL_MS = 26 * HOUR_MS;

const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS);
const hourOf = (ms: number): number => Math.floor(ms / HOUR_MS);
const projectBucketKey = (minute: number, orgId: number, projectId: number): string => `dsctl:t:m:${minute}:p:${orgId}:${projectId}`;
const projectIndexKey = (minute: number): string => `dsctl:t:m:${minute}:projects`;
const orgMinuteKey = (minute: number): string => `dsctl:t:m:${minute}:orgs`;
const orgHourKey = (hour: number): string => `dsctl:t:h:${hour}:orgs`;
/** Roots of a project per class (kind, transaction, release, environment) and decision: what the rate budget predicts from. */
const projectClassKey = (minute: number, orgId: number, projectId: number): string => `dsctl:t:m:${minute}:c:${orgId}:${projectId}`;
const decisionPrefix = (d: Decision): string => (d === 'keep' ? 'k:' : 'd:');

/** One aggregated count to add. */
export interface RootCount {
  orgId: number;
  projectId: number;
  transaction: string;
  decision: Decision;
  count: number;
  /** ms since the epoch. */
  at: number;
  /** What the root was (default `transaction`). */
  kind?: RootKind;
  /** The DSC's release and environment (what trace rules match). */
  release?: string | null;
  environment?: string | null;
}

/** What was counted: transaction events, or segment spans (Relay's `c:spans/count_per_root_project` with `is_segment:true`). */
export type RootKind = 'transaction' | 'segment';

/** Roots of one class of a project in a window: what every rule sees of a root is the same within it. */
export interface RootClass {
  orgId: number;
  projectId: number;
  kind: RootKind;
  transaction: string;
  release: string | null;
  environment: string | null;
  keep: number;
  drop: number;
}

/** Set while segment spans are counted for a root project (streamed traces): its health checks are matched on the trace. */
export const segmentRootsKey = (projectId: number): string => `dsctl:p:${projectId}:segment_roots`;
/** How long a project counts as streaming after its last counted segment. */
export const SEGMENT_ROOTS_TTL_MS = 24 * HOUR_MS;

const classField = (c: RootCount): string => JSON.stringify([c.decision === 'keep' ? 'k' : 'd', c.kind ?? 'transaction', c.transaction, c.release ?? null, c.environment ?? null]);

/** Root volume of an organisation in a window (`OrganizationDataVolume`). */
export interface OrgVolume {
  orgId: number;
  total: number;
  /** Kept roots (Sentry's `indexed`). */
  keep: number;
}

/** Root volume of a project in a window, with its transactions. */
export interface ProjectVolume {
  orgId: number;
  projectId: number;
  keep: number;
  drop: number;
  /** Transaction name → roots (kept and dropped). */
  transactions: Map<string, number>;
}

/** A time window `[from, to)` in ms; minute buckets whose start lies inside are counted. */
export interface Window {
  from: number;
  to: number;
}

/** The window of the last `ms` ending at `now` (the bucket holding `now` included). */
export function lastWindow(now: number, ms: number): Window {
  const end = (minuteOf(now) + 1) * MINUTE_MS;
  return { from: end - ms, to: end };
}

function minutesIn(window: Window): number[] {
  const out: number[] = [];
  for (let m = Math.ceil(window.from / MINUTE_MS); m * MINUTE_MS < window.to; m++) out.push(m);
  return out;
}

export class TrafficCounts {
  constructor(private readonly kv: KeyValueStore) {}

  /** Adds aggregated counts in one round trip. */
  async add(counts: readonly RootCount[]): Promise<void> {
    const minuteIncrements: HashIncrement[] = [];
    const hourIncrements: HashIncrement[] = [];
    const index = new Map<number, Set<string>>();
    const streaming = new Set<number>();
    for (const c of counts) {
      if (c.count === 0) continue;
      if (c.kind === 'segment') streaming.add(c.projectId);
      const minute = minuteOf(c.at);
      const prefix = decisionPrefix(c.decision);
      minuteIncrements.push({ key: projectBucketKey(minute, c.orgId, c.projectId), field: prefix + c.transaction, by: c.count });
      minuteIncrements.push({ key: projectClassKey(minute, c.orgId, c.projectId), field: classField(c), by: c.count });
      minuteIncrements.push({ key: orgMinuteKey(minute), field: `${c.orgId}:${prefix[0]}`, by: c.count });
      hourIncrements.push({ key: orgHourKey(hourOf(c.at)), field: `${c.orgId}:${prefix[0]}`, by: c.count });
      let members = index.get(minute);
      if (!members) index.set(minute, (members = new Set()));
      members.add(`${c.orgId}:${c.projectId}`);
    }
    await Promise.all([
      this.kv.hincrbyMany(minuteIncrements, MINUTE_BUCKET_TTL_MS),
      this.kv.hincrbyMany(hourIncrements, HOUR_BUCKET_TTL_MS),
      ...[...index].map(([minute, members]) => this.kv.sadd(projectIndexKey(minute), [...members], MINUTE_BUCKET_TTL_MS)),
      ...[...streaming].map((projectId) => this.kv.set(segmentRootsKey(projectId), '1', SEGMENT_ROOTS_TTL_MS)),
    ]);
  }

  /** Whether segment spans (streamed traces) were counted for the project in the last day. */
  streamsSpans(projectId: number): Promise<boolean> {
    return this.kv.exists(segmentRootsKey(projectId));
  }

  private static foldOrgs(hashes: Record<string, string>[]): Map<number, OrgVolume> {
    const out = new Map<number, OrgVolume>();
    for (const hash of hashes) {
      for (const [field, value] of Object.entries(hash)) {
        const sep = field.lastIndexOf(':');
        const orgId = Number(field.slice(0, sep));
        let v = out.get(orgId);
        if (!v) out.set(orgId, (v = { orgId, total: 0, keep: 0 }));
        const n = Number(value);
        v.total += n;
        if (field.slice(sep + 1) === 'k') v.keep += n;
      }
    }
    return out;
  }

  /** Root volumes per organisation in a window (minute resolution), ordered by org id. */
  async orgVolumes(window: Window): Promise<OrgVolume[]> {
    const hashes = await this.kv.hgetallMany(minutesIn(window).map(orgMinuteKey));
    return [...TrafficCounts.foldOrgs(hashes).values()].sort((a, b) => a.orgId - b.orgId);
  }

  /** Root volumes per organisation over the last `hours` whole hours up to `now` (hour resolution). */
  async orgVolumesHourly(now: number, hours: number): Promise<OrgVolume[]> {
    const last = hourOf(now);
    const keys: string[] = [];
    for (let h = last - hours + 1; h <= last; h++) keys.push(orgHourKey(h));
    const hashes = await this.kv.hgetallMany(keys);
    return [...TrafficCounts.foldOrgs(hashes).values()].sort((a, b) => a.orgId - b.orgId);
  }

  /** The hashes under `keyOf` of every project counted in the window's minutes, with their (org, project). */
  private async projectHashes(
    window: Window,
    keyOf: (minute: number, orgId: number, projectId: number) => string,
    orgIds?: ReadonlySet<number>,
  ): Promise<{ hashes: Record<string, string>[]; owners: Array<[number, number]> }> {
    const minutes = minutesIn(window);
    const indexes = await Promise.all(minutes.map((m) => this.kv.smembers(projectIndexKey(m))));
    const keys: string[] = [];
    const owners: Array<[number, number]> = [];
    minutes.forEach((minute, i) => {
      for (const member of indexes[i]) {
        const [orgId, projectId] = member.split(':').map(Number);
        if (orgIds && !orgIds.has(orgId)) continue;
        keys.push(keyOf(minute, orgId, projectId));
        owners.push([orgId, projectId]);
      }
    });
    return { hashes: await this.kv.hgetallMany(keys), owners };
  }

  /** Root volumes per project (with transactions) in a window, ordered by (org, project). */
  async projectVolumes(window: Window, orgIds?: ReadonlySet<number>): Promise<ProjectVolume[]> {
    const { hashes, owners } = await this.projectHashes(window, projectBucketKey, orgIds);
    const out = new Map<string, ProjectVolume>();
    hashes.forEach((hash, i) => {
      const [orgId, projectId] = owners[i];
      const id = `${orgId}:${projectId}`;
      let v = out.get(id);
      if (!v) out.set(id, (v = { orgId, projectId, keep: 0, drop: 0, transactions: new Map() }));
      for (const [field, value] of Object.entries(hash)) {
        const n = Number(value);
        const name = field.slice(2);
        if (field.startsWith('k:')) v.keep += n;
        else v.drop += n;
        v.transactions.set(name, (v.transactions.get(name) ?? 0) + n);
      }
    });
    return [...out.values()].sort((a, b) => a.orgId - b.orgId || a.projectId - b.projectId);
  }

  /** Roots per project and class in a window, ordered by (org, project); unreadable fields are skipped. */
  async rootClasses(window: Window, orgIds?: ReadonlySet<number>): Promise<RootClass[]> {
    const { hashes, owners } = await this.projectHashes(window, projectClassKey, orgIds);
    const out = new Map<string, RootClass>();
    hashes.forEach((hash, i) => {
      const [orgId, projectId] = owners[i];
      for (const [field, value] of Object.entries(hash)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(field);
        } catch {
          continue;
        }
        if (!Array.isArray(parsed) || parsed.length !== 5) continue;
        const [decision, kind, transaction, release, environment] = parsed as [string, RootKind, string, string | null, string | null];
        const id = `${orgId}:${projectId}:${field.slice(4)}`;
        let c = out.get(id);
        if (!c) out.set(id, (c = { orgId, projectId, kind: kind === 'segment' ? 'segment' : 'transaction', transaction, release, environment, keep: 0, drop: 0 }));
        if (decision === 'k') c.keep += Number(value);
        else c.drop += Number(value);
      }
    });
    return [...out.values()].sort((a, b) => a.orgId - b.orgId || a.projectId - b.projectId);
  }
}
