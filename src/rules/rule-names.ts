// Human-readable names of generated rules (by reserved id range): the demo's per-rule table and the dashboard.

import { RESERVED_IDS } from './constants';

interface RuleLike {
  id: number;
  type: string;
  samplingValue: { type: string; value?: number; limit?: number };
}

export function ruleName(id: number): string {
  if (id === RESERVED_IDS.uniformRule) return 'base rate (boost low-volume projects)';
  if (id === RESERVED_IDS.boostEnvironments) return 'boost dev environments';
  if (id === RESERVED_IDS.ignoreHealthChecks) return 'ignore health checks';
  if (id === RESERVED_IDS.recalibrationRule) return 'recalibration';
  if (id === RESERVED_IDS.boostReplayId) return 'boost replays';
  if (id >= RESERVED_IDS.boostLowVolumeTransactions && id < RESERVED_IDS.boostLatestRelease) return 'rebalance transactions';
  if (id >= RESERVED_IDS.boostLatestRelease && id < RESERVED_IDS.minimumSampleRate) return 'boost latest release';
  if (id >= RESERVED_IDS.minimumSampleRate && id < 2000) return 'minimum sample rate';
  if (id >= RESERVED_IDS.customRule) return `investigation rule ${id - RESERVED_IDS.customRule}`;
  return `rule ${id}`;
}

export function describeRule(rule: RuleLike): string {
  const v = rule.samplingValue;
  const value = v.type === 'reservoir' ? `keep first ${v.limit}` : `${v.type} ${Number(v.value?.toFixed(4))}`;
  return `${String(rule.id).padStart(4)}  ${rule.type.padEnd(11)} ${value.padEnd(22)} ${ruleName(rule.id)}`;
}
