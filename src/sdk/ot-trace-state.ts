// A W3C tracestate holding only the `ot` entry, built per kept root span without parsing or
// copying a map (OpenTelemetry accepts any `TraceState` implementation); changes go through the API's.

import type { TraceState } from '@opentelemetry/api';

export class OtTraceState implements TraceState {
  constructor(
    private readonly value: string,
    private readonly create: (raw: string) => TraceState,
  ) {}

  get(key: string): string | undefined {
    return key === 'ot' ? this.value : undefined;
  }

  set(key: string, value: string): TraceState {
    return this.create(this.serialize()).set(key, value);
  }

  unset(key: string): TraceState {
    return this.create(this.serialize()).unset(key);
  }

  serialize(): string {
    return `ot=${this.value}`;
  }
}
