// Protected mode of the control plane: who may call which route, and the refusal to listen beyond loopback without credentials.

import type { IncomingMessage } from 'node:http';
import { isLoopbackHost, type TrustedClients } from '../../access/clients';
import { bearerToken, matchesAny } from '../../access/tokens';
import { ControlPlaneOptionsError } from '../errors';
import type { Reply } from './router';

/**
 * What a route needs: nothing (`public`: liveness), an admin token that reads or writes, Relay
 * credentials checked by the route itself over the body (`relay`: signatures cover the body), a
 * relay key on the allow-list, checked by the route (`registration`: any client may ask, as in Sentry), or
 * `page`: the dashboard's page and scripts, which hold no data (what they load needs a read token),
 * served to whoever may reach the admin API: with admin tokens any client, without them trusted
 * (loopback) clients only.
 */
export type RouteAccess = 'public' | 'read' | 'write' | 'relay' | 'registration' | 'page';

export interface AdminCredentials {
  /** Tokens that may read and change (every admin route). */
  write: readonly string[];
  /** Tokens that may only read (GET routes, /metrics). */
  read: readonly string[];
}

const refusal = (status: number, code: string, detail: string): Reply => ({ status, body: { detail, code } });

/** Checks the admin routes: with tokens configured every client needs one; without, only trusted (loopback) clients pass. */
export class AdminAccess {
  constructor(
    private readonly credentials: AdminCredentials,
    private readonly trusted: TrustedClients,
    /** No protected mode: any client passes when no admin token is configured. */
    private readonly insecureOpen: boolean,
  ) {}

  get configured(): boolean {
    return this.credentials.write.length > 0 || this.credentials.read.length > 0;
  }

  /** null when the request may go on, else the answer. */
  check(req: IncomingMessage, access: 'read' | 'write' | 'page'): Reply | null {
    if (!this.configured) {
      if (this.insecureOpen || this.trusted.has(req.socket.remoteAddress)) return null;
      return refusal(403, 'forbidden', 'no admin token is configured: the admin API serves loopback clients only (set adminTokens / --control-admin-token)');
    }
    // A browser loads the page without a token; the page then asks for one and sends it with every API call.
    if (access === 'page') return null;
    const given = bearerToken(req.headers);
    if (matchesAny(given, this.credentials.write)) return null;
    if (matchesAny(given, this.credentials.read)) {
      return access === 'read' ? null : refusal(403, 'read_only', 'this token may only read: changes need an admin (write) token');
    }
    return refusal(401, 'unauthorized', 'missing or invalid admin token');
  }
}

/**
 * Like Redis' protected mode: listening beyond loopback needs credentials for both the admin API and
 * the config endpoint, unless `insecureOpen` says the open server is wanted.
 */
export function checkProtectedMode(host: string, state: { adminConfigured: boolean; configConfigured: boolean; insecureOpen: boolean }): void {
  if (state.insecureOpen || isLoopbackHost(host)) return;
  const beyond = `the control plane would listen on ${host}, beyond loopback,`;
  if (!state.adminConfigured) {
    throw new ControlPlaneOptionsError(
      'adminTokens',
      `${beyond} with no admin token: anyone reaching it could change the sampling. Set adminTokens (npm start: --control-admin-token, --control-admin-token-file, DS_CONTROL_ADMIN_TOKEN[_FILE]), or insecureOpen (--insecure-open) to serve it open on purpose`,
    );
  }
  if (!state.configConfigured) {
    throw new ControlPlaneOptionsError(
      'tokens',
      `${beyond} with no relays or config tokens: anyone reaching it could read every project's config. Set tokens (npm start: --control-token, --control-token-file, DS_CONTROL_TOKENS[_FILE]) or relays, or insecureOpen (--insecure-open) to serve it open on purpose`,
    );
  }
}
