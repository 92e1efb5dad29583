// Case-insensitive glob patterns with relay-pattern's semantics (spec §5): parsed into normalised
// tokens, then matched by the cheapest strategy (literal, prefix, suffix, contains) or, for the
// rest, by one anchored RegExp over the haystack lowercased char by char.

type Tok =
  | { t: 'lit'; s: string }
  | { t: 'any'; n: number }
  | { t: 'star' }
  | { t: 'class'; negated: boolean; ranges: [number, number][] }
  | { t: 'alt'; branches: Tok[][] }
  | { t: 'opt'; inner: Tok[] };

export class GlobError extends Error {
  override name = 'GlobError';
}

const STAR: Tok = { t: 'star' };

/** Appends `token`, folding redundant tokens the way Relay's token list does. */
function pushNormalized(list: Tok[], token: Tok): void {
  if (token.t === 'alt') {
    let hadEmpty = false;
    let hadStar = false;
    const branches = token.branches.filter((b) => {
      if (b.length === 0) hadEmpty = true;
      if (b.length === 1 && b[0].t === 'star') hadStar = true;
      return b.length > 0;
    });
    if (hadStar) {
      token = STAR;
    } else if (branches.length === 1) {
      if (hadEmpty) {
        token = { t: 'opt', inner: branches[0] };
      } else {
        // `{abc}` is spliced in, so `*{abc}*` still takes the contains strategy.
        for (const inner of branches[0]) pushNormalized(list, inner);
        return;
      }
    } else if (hadEmpty && branches.length > 0) {
      token = { t: 'opt', inner: [{ t: 'alt', branches }] };
    } else {
      token = { t: 'alt', branches }; // `{,}` keeps no branch and never matches
    }
  }
  const last = list.length > 0 ? list[list.length - 1] : undefined;
  if (last !== undefined && last.t === 'any' && token.t === 'any') last.n += token.n;
  else if (last !== undefined && last.t === 'star' && token.t === 'star') return;
  else if (last !== undefined && last.t === 'lit' && token.t === 'lit') list[list.length - 1] = { t: 'lit', s: last.s + token.s };
  else if (token.t === 'class' && token.ranges.length === 0) return; // `[]` and `[!]` vanish
  else list.push(token);
}

/** Parses a pattern into normalised tokens; literal runs are lowercased. Throws `GlobError`. */
function parse(pattern: string): Tok[] {
  const chars = Array.from(pattern);
  let i = 0;
  const tokens: Tok[] = [];
  let group: Tok[][] | null = null;
  let literal = '';

  const pushRaw = (token: Tok) => {
    if (group !== null) {
      if (group.length === 0) group.push([]);
      pushNormalized(group[group.length - 1], token);
    } else {
      pushNormalized(tokens, token);
    }
  };
  const flush = () => {
    if (literal !== '') {
      const lowered = literal.toLowerCase();
      literal = '';
      pushRaw({ t: 'lit', s: lowered });
    }
  };
  const push = (token: Tok) => {
    flush();
    pushRaw(token);
  };
  const next = (): string | undefined => (i < chars.length ? chars[i++] : undefined);

  const parseClass = (): Tok => {
    const negated = chars[i] === '!';
    if (negated) i++;
    const ranges: [number, number][] = [];
    let first = true;
    let openRange = false;
    const closeRange = (end: number) => {
      const last = ranges[ranges.length - 1];
      if (last[0] > end) throw new GlobError(`invalid range in ${pattern}`);
      last[1] = end;
    };
    for (;;) {
      let c = next();
      if (c === undefined) throw new GlobError(`unbalanced class in ${pattern}`);
      if (c === '[') throw new GlobError(`nested class in ${pattern}`);
      if (c === ']') break;
      if (c === '-' && first) ranges.push([45, 45]);
      else if (c === '-' && openRange) {
        closeRange(45);
        openRange = false;
      } else if (c === '-') openRange = true;
      else {
        if (c === '\\') {
          c = next();
          if (c === undefined) throw new GlobError(`dangling escape in ${pattern}`);
        }
        const cp = c.codePointAt(0)!;
        if (openRange) {
          closeRange(cp);
          openRange = false;
        } else {
          ranges.push([cp, cp]);
        }
      }
      first = false;
    }
    if (openRange) ranges.push([45, 45]);
    return { t: 'class', negated, ranges };
  };

  for (let c = next(); c !== undefined; c = next()) {
    switch (c) {
      case '?':
        push({ t: 'any', n: 1 });
        break;
      case '*':
        push(STAR);
        break;
      case '[':
        flush();
        pushRaw(parseClass());
        break;
      case ']':
        throw new GlobError(`unbalanced class in ${pattern}`);
      case '{':
        if (group !== null) throw new GlobError(`nested alternation in ${pattern}`);
        flush();
        group = [];
        break;
      case '}': {
        flush();
        if (group === null) throw new GlobError(`unbalanced alternation in ${pattern}`);
        const branches: Tok[][] = group;
        group = null;
        if (branches.length > 0) pushRaw({ t: 'alt', branches });
        break;
      }
      case '\\': {
        const escaped = next();
        if (escaped === undefined) throw new GlobError(`dangling escape in ${pattern}`);
        literal += escaped;
        break;
      }
      case ',':
        if (group !== null) {
          flush();
          // A comma before any branch opens the branch the next tokens fill: `{,x}` is `x`.
          (group as Tok[][]).push([]);
        } else {
          literal += c;
        }
        break;
      default:
        literal += c;
    }
  }
  flush();
  // An unclosed `{` leaves its branches in `group`, dropped here (`a{b,c` is `a`).
  return tokens;
}

// ------------------------------------------------------------------------------------------------
// Character classes as RegExp sets

/** Every code point whose lowercase or uppercase (when a single char) differs from itself. */
let casedTable: Int32Array | null = null;

function single(s: string): number {
  const cp = s.codePointAt(0)!;
  return s.length === (cp > 0xffff ? 2 : 1) ? cp : -1;
}

function cased(): Int32Array {
  if (casedTable !== null) return casedTable;
  const out: number[] = [];
  for (let cp = 0; cp < 0x20000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    const lower = c.toLowerCase();
    const upper = c.toUpperCase();
    if (lower !== c || upper !== c) out.push(cp, single(lower), single(upper));
  }
  casedTable = Int32Array.from(out);
  return casedTable;
}

function escapeCp(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/**
 * A class as a RegExp set: a character matches when its lowercase or uppercase (if a single
 * char) lies in a range. Ranges are taken as written, minus the cased characters in them, which
 * are decided one by one.
 */
function classSource(negated: boolean, ranges: [number, number][]): string {
  const inRanges = (cp: number) => cp >= 0 && ranges.some(([lo, hi]) => lo <= cp && cp <= hi);
  const members: string[] = [];
  const table = cased();
  for (let k = 0; k < table.length; k += 3) {
    if (inRanges(table[k + 1]) || inRanges(table[k + 2])) members.push(escapeCp(table[k]));
  }
  const span = (lo: number, hi: number) => {
    if (lo <= hi) members.push(lo === hi ? escapeCp(lo) : `${escapeCp(lo)}-${escapeCp(hi)}`);
  };
  for (const [lo, hi] of ranges) {
    // The gaps between the cased code points inside [lo, hi] (the table is in ascending order).
    let from = lo;
    for (let k = 0; k < table.length; k += 3) {
      const cp = table[k];
      if (cp < lo) continue;
      if (cp > hi) break;
      span(from, cp - 1);
      from = cp + 1;
    }
    span(from, hi);
  }
  if (members.length === 0) return negated ? '[^]' : '[]';
  return `[${negated ? '^' : ''}${members.join('')}]`;
}

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/]/g;

function regexSource(tokens: Tok[]): string {
  let out = '';
  for (const tok of tokens) {
    switch (tok.t) {
      case 'lit':
        out += tok.s.replace(REGEX_SPECIAL, '\\$&');
        break;
      case 'any':
        out += tok.n === 1 ? '.' : `.{${tok.n}}`;
        break;
      case 'star':
        out += '.*';
        break;
      case 'class':
        out += classSource(tok.negated, tok.ranges);
        break;
      case 'alt':
        out += tok.branches.length === 0 ? '[]' : `(?:${tok.branches.map(regexSource).join('|')})`;
        break;
      case 'opt':
        out += `(?:${regexSource(tok.inner)})?`;
        break;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Strategies

const enum Strategy {
  Never,
  Always,
  Literal,
  Prefix,
  Suffix,
  Contains,
  General,
}

const NON_ASCII = /[^\x00-\x7f]/;

/** The haystack lowercased char by char (JS lowercases a whole string with the final-sigma rule). */
export function foldChars(s: string): string {
  const lowered = s.toLowerCase();
  if (!s.includes('Σ')) return lowered;
  let out = '';
  for (const c of s) out += c.toLowerCase();
  return out;
}

/** One compiled pattern. */
export class Glob {
  private readonly strategy: Strategy;
  private readonly text: string = '';
  readonly source: string = '';
  private regex: RegExp | null = null;

  constructor(readonly pattern: string) {
    const tokens = parse(pattern);
    const [a, b, c] = tokens;
    if (tokens.length === 0) this.strategy = Strategy.Never;
    else if (tokens.length === 1 && a.t === 'star') this.strategy = Strategy.Always;
    else if (tokens.length === 1 && a.t === 'lit') [this.strategy, this.text] = [Strategy.Literal, a.s];
    else if (tokens.length === 2 && a.t === 'lit' && b.t === 'star') [this.strategy, this.text] = [Strategy.Prefix, a.s];
    else if (tokens.length === 2 && a.t === 'star' && b.t === 'lit') [this.strategy, this.text] = [Strategy.Suffix, b.s];
    else if (tokens.length === 3 && a.t === 'star' && b.t === 'lit' && c.t === 'star') [this.strategy, this.text] = [Strategy.Contains, b.s];
    else [this.strategy, this.source] = [Strategy.General, regexSource(tokens)];
  }

  get isGeneral(): boolean {
    return this.strategy === Strategy.General;
  }

  /**
   * Whether the pattern matches; `folded` is `foldChars(haystack)` and `lowered` is
   * `haystack.toLowerCase()` (they differ only for a capital sigma).
   */
  test(folded: string, lowered: string): boolean {
    switch (this.strategy) {
      case Strategy.Never:
        return false;
      case Strategy.Always:
        return true;
      case Strategy.Literal:
        return folded === this.text;
      case Strategy.Prefix:
        return folded.startsWith(this.text);
      case Strategy.Suffix:
        return folded.endsWith(this.text);
      case Strategy.Contains:
        return lowered.includes(this.text);
      default:
        this.regex ??= new RegExp(`^(?:${this.source})$`, 'su');
        return this.regex.test(folded);
    }
  }
}

/** The patterns of one glob condition: invalid ones are dropped; matches when any matches. */
export class GlobList {
  private readonly simple: Glob[] = [];
  /** All general patterns as one anchored alternation. */
  private readonly general: RegExp | null = null;
  private readonly never: boolean;

  constructor(patterns: readonly string[]) {
    const general: string[] = [];
    for (const p of patterns) {
      let glob: Glob;
      try {
        glob = new Glob(p);
      } catch (error) {
        if (error instanceof GlobError) continue;
        throw error;
      }
      if (glob.isGeneral) general.push(glob.source);
      else this.simple.push(glob);
    }
    if (general.length > 0) this.general = new RegExp(`^(?:${general.join('|')})$`, 'su');
    this.never = this.simple.length === 0 && this.general === null;
  }

  test(haystack: string): boolean {
    if (this.never) return false;
    const lowered = haystack.toLowerCase();
    // Folding char by char differs from lowercasing the whole string only for a capital sigma.
    const folded = NON_ASCII.test(haystack) && haystack.includes('Σ') ? foldChars(haystack) : lowered;
    const simple = this.simple;
    for (let i = 0; i < simple.length; i++) if (simple[i].test(folded, lowered)) return true;
    return this.general !== null && this.general.test(folded);
  }
}
