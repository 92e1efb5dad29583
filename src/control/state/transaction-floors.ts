// Classic pipeline, predictive budget: the rare-transaction floors boost_low_volume_projects solves, kept for boost_low_volume_transactions.

import type { TransactionFloor } from '../budget/floors';
import type { KeyValueStore } from '../store/kv';
import { transactionFloorKey } from './keys';

/** As long as the transactions task's query window: a floor outlives no run that would rewrite it. */
const FLOOR_TTL_MS = 60 * 60 * 1000;

/** Stores each project's rare-transaction floor (deleted where there is none) for the transactions task. */
export async function writeTransactionFloors(kv: KeyValueStore, projectIds: readonly number[], floors: ReadonlyMap<number, TransactionFloor>): Promise<void> {
  for (const id of projectIds) {
    const floor = floors.get(id);
    if (floor) await kv.set(transactionFloorKey(id), JSON.stringify({ named: [...floor.named], implicit: floor.implicit }), FLOOR_TTL_MS);
    else await kv.del([transactionFloorKey(id)]);
  }
}

/** The floor `boost_low_volume_projects` stored for a project (null: none, or unreadable). */
export async function readTransactionFloor(kv: KeyValueStore, projectId: number): Promise<TransactionFloor | null> {
  const raw = await kv.get(transactionFloorKey(projectId));
  if (raw === null) return null;
  try {
    const parsed = JSON.parse(raw) as { named: Array<[string, number]>; implicit: number | null };
    return { named: new Map(parsed.named), implicit: parsed.implicit };
  } catch {
    return null;
  }
}

