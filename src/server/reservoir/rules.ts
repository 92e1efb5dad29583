// Finds reservoir rules in a sampling config and removes exhausted ones from it (configs stay otherwise as sent).

export interface ReservoirRule {
  id: number;
  limit: number;
  /** End of the rule's time range (ms since the epoch), or null when open-ended. */
  endMs: number | null;
}

interface RuleLike {
  id?: unknown;
  samplingValue?: { type?: unknown; limit?: unknown };
  timeRange?: { end?: unknown } | null;
}

function rulesOf(config: Record<string, unknown>): RuleLike[] {
  const lists = [config.rules, config.rulesV2].filter(Array.isArray) as unknown[][];
  return lists.flat().filter((r): r is RuleLike => r !== null && typeof r === 'object');
}

/** The reservoir rules of a sampling config given as JSON text (cheap when there is none). */
export function reservoirRules(samplingJson: string | null): ReservoirRule[] {
  if (samplingJson === null || !samplingJson.includes('reservoir')) return [];
  let config: unknown;
  try {
    config = JSON.parse(samplingJson);
  } catch {
    return [];
  }
  if (config === null || typeof config !== 'object') return [];
  const out: ReservoirRule[] = [];
  for (const rule of rulesOf(config as Record<string, unknown>)) {
    const value = rule.samplingValue;
    if (value?.type !== 'reservoir' || typeof rule.id !== 'number' || typeof value.limit !== 'number') continue;
    const end = typeof rule.timeRange?.end === 'string' ? Date.parse(rule.timeRange.end) : NaN;
    out.push({ id: rule.id, limit: value.limit, endMs: Number.isNaN(end) ? null : end });
  }
  return out;
}

/** The config without the rules whose ids are in `ids` (from `rules` and `rulesV2`). */
export function withoutRules(samplingJson: string, ids: ReadonlySet<number>): string {
  const config = JSON.parse(samplingJson) as Record<string, unknown>;
  for (const field of ['rules', 'rulesV2']) {
    const list = config[field];
    if (Array.isArray(list)) config[field] = list.filter((r: RuleLike) => !(r && typeof r.id === 'number' && ids.has(r.id)));
  }
  return JSON.stringify(config);
}
