// Which clients are "local": the socket's peer address (never a header) matched against trusted networks, loopback by default.

import { BlockList, isIP } from 'node:net';

/** 127.0.0.0/8 and ::1 (IPv4-mapped `::ffff:127.x.y.z` addresses match the IPv4 network). */
export const LOOPBACK_NETWORKS: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `addr/n`; null when it is none of these. */
function parseNetwork(text: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } | null {
  const slash = text.indexOf('/');
  const address = (slash < 0 ? text : text.slice(0, slash)).trim();
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address, prefix, type: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The networks whose clients are served without credentials when none are configured. */
export class TrustedClients {
  private readonly list = new BlockList();

  /** Throws `fail(message)` for a network that is not an address or CIDR block. */
  constructor(
    readonly networks: readonly string[] = LOOPBACK_NETWORKS,
    fail: (message: string) => Error = (message) => new Error(message),
  ) {
    for (const text of networks) {
      const network = parseNetwork(text);
      if (!network) throw fail(`"${text}" is not an IP address or CIDR network (127.0.0.0/8, ::1)`);
      this.list.addSubnet(network.address, network.prefix, network.type);
    }
  }

  /** Whether a peer address (`req.socket.remoteAddress`) belongs to a trusted network. */
  has(address: string | undefined): boolean {
    if (address === undefined) return false;
    const version = isIP(address);
    if (version === 0) return false;
    return this.list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  }
}

const LOOPBACK = new TrustedClients();

/** Whether a listen address reaches loopback clients only (`localhost`, 127.x, ::1); wildcards and names do not. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return LOOPBACK.has(bare);
}
