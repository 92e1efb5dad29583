// Reads and writes `ds::o:{org}:p:{proj}:pri_tran` (`[{name: rate}, implicit]`) keeping the names' stored order.

import { StoredStateError } from '../errors';
import type { TransactionRates } from '../../rules/types';
import { formatStoredFloat } from './floats';

/** Serializes like Python's `json.dumps([{name: rate, ...}, implicit])` (names in the given order). */
export function formatTransactionRates(named: ReadonlyArray<readonly [string, number]>, implicit: number): string {
  const entries = named.map(([name, rate]) => `${JSON.stringify(name)}: ${formatStoredFloat(rate)}`).join(', ');
  return `[{${entries}}, ${formatStoredFloat(implicit)}]`;
}

class Cursor {
  i = 0;
  constructor(readonly text: string, readonly key: string) {}
  ws(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i])) this.i += 1;
  }
  expect(ch: string): void {
    this.ws();
    if (this.text[this.i] !== ch) throw new StoredStateError(this.key, `expected ${ch} at ${this.i}`);
    this.i += 1;
  }
  peek(): string {
    this.ws();
    return this.text[this.i];
  }
  string(): string {
    this.ws();
    const start = this.i;
    if (this.text[this.i] !== '"') throw new StoredStateError(this.key, `expected a string at ${this.i}`);
    this.i += 1;
    while (this.i < this.text.length && this.text[this.i] !== '"') this.i += this.text[this.i] === '\\' ? 2 : 1;
    this.i += 1;
    return JSON.parse(this.text.slice(start, this.i)) as string;
  }
  number(): number {
    this.ws();
    const m = /^(-?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|Infinity|NaN))/.exec(this.text.slice(this.i));
    if (!m) throw new StoredStateError(this.key, `expected a number at ${this.i}`);
    this.i += m[1].length;
    return Number(m[1]);
  }
}

/** Parses a stored value; throws `StoredStateError` when it does not have the expected shape. */
export function parseTransactionRates(text: string, key: string): TransactionRates {
  const c = new Cursor(text, key);
  c.expect('[');
  c.expect('{');
  const named: Array<[string, number]> = [];
  if (c.peek() !== '}') {
    for (;;) {
      const name = c.string();
      c.expect(':');
      named.push([name, c.number()]);
      if (c.peek() === ',') {
        c.expect(',');
        continue;
      }
      break;
    }
  }
  c.expect('}');
  c.expect(',');
  const implicit = c.number();
  c.expect(']');
  c.ws();
  if (c.i !== text.length) throw new StoredStateError(key, 'trailing characters');
  return { named, implicit };
}
