// The recorder of an ingestion process that counts into the control plane's Redis (`serve --redis URL --count-roots`),
// whichever process hosts the control plane.

import type { Logger } from 'pino';
import { RELEASES_OBSERVED_CHANNEL } from '../state/keys';
import { RedisKeyValueStore, type RedisConnection } from '../store/redis-kv';
import { TrafficCounts } from './counts';
import { CountingTrafficRecorder, type ReleaseObservation, type RootRecord, type TrafficRecorder } from './recorder';

export interface SharedRecorderOptions {
  /** The Redis the control plane keeps its state in (its `redis` / `--control-redis`). */
  redis: RedisConnection;
  logger?: Logger;
  /** How often counts are written, ms (default 1000). */
  flushIntervalMs?: number;
  /** Bound of the counts buffered while Redis is down (see `CountingRecorderOptions`). */
  maxBufferedRecords?: number;
}

/** A release observation as published for the control plane. */
export type PublishedRelease = Required<Omit<ReleaseObservation, 'environment' | 'at'>> & { environment: string | null; at: number };

/**
 * Counts trace roots into the shared buckets the control plane's tasks read (batched, every
 * second), buffering them in memory while Redis is down. Releases are published for the control
 * plane, which boosts them and invalidates (it subscribes while it runs).
 */
export class SharedTrafficRecorder implements TrafficRecorder {
  private readonly kv: RedisKeyValueStore;
  private readonly recorder: CountingTrafficRecorder;
  private readonly stopRecovery: () => void;

  constructor(options: SharedRecorderOptions) {
    this.kv = new RedisKeyValueStore(options.redis, options.logger, 'traffic counts');
    this.recorder = new CountingTrafficRecorder({
      counts: new TrafficCounts(this.kv),
      logger: options.logger,
      flushIntervalMs: options.flushIntervalMs,
      maxBufferedRecords: options.maxBufferedRecords,
      onRelease: async (observation) => {
        await this.kv.publish(RELEASES_OBSERVED_CHANNEL, JSON.stringify(observation satisfies PublishedRelease));
      },
    });
    // What was buffered during an outage goes as soon as Redis is back.
    this.stopRecovery = this.kv.onRecovered(() => void this.recorder.flush());
  }

  recordRoot(root: RootRecord): void {
    this.recorder.recordRoot(root);
  }

  observeRelease(observation: ReleaseObservation): void {
    this.recorder.observeRelease(observation);
  }

  /** Roots dropped because the outage buffer was full. */
  get droppedRoots(): number {
    return this.recorder.droppedRoots;
  }

  /** Aggregated records waiting to be written. */
  get bufferedRecords(): number {
    return this.recorder.bufferedRecords;
  }

  flush(): Promise<void> {
    return this.recorder.flush();
  }

  async close(): Promise<void> {
    this.stopRecovery();
    await this.recorder.close();
    await this.kv.close();
  }
}
