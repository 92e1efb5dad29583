// What a sampling callback may return, read as the Sentry SDKs read it: a boolean (true = 1,
// false = 0) or a number in [0, 1]; anything else is warned about and drops the item.

export type SampleResult = number | boolean;

/** Reports a problem once per distinct message (a bad callback would otherwise warn per span). */
export function onceWarner(warn: (message: string) => void): (message: string) => void {
  const seen = new Set<string>();
  return (message) => {
    if (seen.has(message) || seen.size > 100) return;
    seen.add(message);
    warn(message);
  };
}

export const defaultWarn = (message: string): void => process.emitWarning(message, { code: 'DYNAMIC_SAMPLING_SDK' });

/** The rate a callback result stands for; null when it is invalid (after a warning: the caller drops). */
export function rateOf(result: unknown, where: string, warn: (message: string) => void): number | null {
  if (typeof result === 'boolean') return result ? 1 : 0;
  if (typeof result === 'number' && result >= 0 && result <= 1) return result;
  const shown = typeof result === 'number' ? String(result) : `${JSON.stringify(result) ?? String(result)} (${typeof result})`;
  warn(`${where} returned ${shown}: a sample rate must be a boolean or a number in [0, 1]; dropping`);
  return null;
}
