// Loads the native addon through the loader napi-rs generates at the package root.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import type * as Binding from '../../index';

// The loader lives at the package root: `../../index.js` from both `src/engine` and `dist/engine`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Binding = require('../../index.js');

export type BindingEngine = Binding.BindingEngine;
/** A sampling config compiled in the engine, held by a `CompiledSamplingConfig`. */
export type CompiledConfigHandle = Binding.CompiledConfigHandle;
