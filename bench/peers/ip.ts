// IP addresses and networks as Rust's `std::net` parses them: strict dotted quads, IPv6 with `::`
// and an optional dotted-quad tail; a v4 network never contains a v6 address and vice versa.

/** An address: 4 bytes (v4) or 16 bytes (v6). */
export interface Ip {
  v6: boolean;
  bytes: Uint8Array;
}

function parseV4Into(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    // No sign, no leading zeros (Rust rejects octal-looking parts), at most 3 digits.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

function parseGroups(text: string, out: number[]): boolean {
  if (text === '') return true;
  for (const g of text.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
    out.push(parseInt(g, 16));
  }
  return true;
}

export function parseIp(text: string): Ip | undefined {
  if (!text.includes(':')) {
    const bytes = new Uint8Array(4);
    return parseV4Into(text, bytes, 0) ? { v6: false, bytes } : undefined;
  }
  const bytes = new Uint8Array(16);
  let body = text;
  let tail: Uint8Array | null = null;
  const lastColon = body.lastIndexOf(':');
  if (body.indexOf('.', lastColon) >= 0) {
    tail = new Uint8Array(4);
    if (!parseV4Into(body.slice(lastColon + 1), tail, 0)) return undefined;
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const head: number[] = [];
  const rest: number[] = [];
  if (!parseGroups(halves[0], head)) return undefined;
  if (halves.length === 2 && !parseGroups(halves[1], rest)) return undefined;
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...rest];
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i] >>> 8;
    bytes[2 * i + 1] = groups[i] & 0xff;
  }
  if (tail !== null) bytes.set(tail, 12);
  return { v6: true, bytes };
}

export function sameIp(a: Ip, b: Ip): boolean {
  if (a.v6 !== b.v6) return false;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  return true;
}

export class IpNetwork {
  constructor(
    readonly addr: Ip,
    readonly prefix: number,
  ) {}

  /** `a.b.c.d`, `a.b.c.d/n`, or the same for v6; a bare address is a /32 or /128. */
  static parse(text: string): IpNetwork | undefined {
    const slash = text.indexOf('/');
    const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
    if (addr === undefined) return undefined;
    const max = addr.v6 ? 128 : 32;
    let prefix = max;
    if (slash >= 0) {
      const p = text.slice(slash + 1);
      if (!/^[0-9]{1,3}$/.test(p)) return undefined;
      prefix = Number(p);
    }
    return prefix <= max ? new IpNetwork(addr, prefix) : undefined;
  }

  contains(ip: Ip): boolean {
    if (ip.v6 !== this.addr.v6) return false;
    let bits = this.prefix;
    for (let i = 0; bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((ip.bytes[i] & mask) !== (this.addr.bytes[i] & mask)) return false;
    }
    return true;
  }
}
