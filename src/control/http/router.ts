// A small HTTP router for node:http: routes by method and path pattern, JSON bodies, typed errors mapped to statuses.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { guardedListener, parseRequestTarget } from '../../http/guard';
import { ApiError, DefinitionsError, InvalidModelInputError, NotFoundError, TooManyRulesError, UnsupportedQueryError } from '../errors';
import type { RouteAccess } from './access';

export interface RequestContext {
  req: IncomingMessage;
  url: URL;
  params: string[];
  body: Buffer;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Raw text instead of JSON (metrics). */
  text?: string;
  contentType?: string;
}

export type Handler = (ctx: RequestContext) => Promise<Reply>;

/** A registered route; every route says who may call it (see `RouteAccess`). */
export interface RouteInfo {
  method: string;
  pattern: RegExp;
  access: RouteAccess;
}

interface Route extends RouteInfo {
  handler: Handler;
}

/** Decides before the body is read: null lets the request through, a reply refuses it. */
export type AccessGuard = (access: RouteAccess, req: IncomingMessage) => Reply | null;

/** Largest accepted request body. */
export const MAX_BODY_BYTES = 1 << 20;

/** Parses a JSON request body; an empty body is `{}`. */
export function jsonBody(ctx: RequestContext): unknown {
  if (ctx.body.length === 0) return {};
  try {
    return JSON.parse(ctx.body.toString('utf8')) as unknown;
  } catch (err) {
    throw new ApiError(400, 'invalid_json', `request body is not JSON: ${(err as Error).message}`);
  }
}

/** A path parameter as a positive integer id. */
export function idParam(value: string, what: string): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id < 1) throw new ApiError(400, 'invalid_id', `${what} must be a positive integer`);
  return id;
}

function statusOf(err: unknown): { status: number; code: string } {
  if (err instanceof ApiError) return { status: err.status, code: err.code };
  if (err instanceof NotFoundError) return { status: 404, code: 'not_found' };
  if (err instanceof TooManyRulesError) return { status: 429, code: 'too_many_rules' };
  if (err instanceof DefinitionsError || err instanceof UnsupportedQueryError || err instanceof InvalidModelInputError) return { status: 400, code: 'invalid' };
  return { status: 500, code: 'internal_error' };
}

export class Router {
  private readonly routes: Route[] = [];

  constructor(
    private readonly logger: Logger,
    private readonly guard: AccessGuard,
  ) {}

  add(method: string, pattern: RegExp, access: RouteAccess, handler: Handler): this {
    this.routes.push({ method, pattern, access, handler });
    return this;
  }

  /** The routes served, with their access (tests check that none is left unguarded). */
  get registered(): RouteInfo[] {
    return this.routes.map(({ method, pattern, access }) => ({ method, pattern, access }));
  }

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) throw new ApiError(413, 'too_large', `request body over ${MAX_BODY_BYTES} bytes`);
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      // The client went away mid-body: its fault, not the server's (no 500, no error log).
      throw new ApiError(400, 'incomplete_body', `request body not received whole: ${(err as Error).message}`);
    }
    return Buffer.concat(chunks);
  }

  /** The node:http request listener: one guarded entry, so no request can throw out of it. */
  readonly listener = guardedListener(
    (req, res) => this.handle(req, res),
    (err, req) => this.logger.error({ err, url: req.url }, 'request failed'),
  );

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const url = parseRequestTarget(req.url);
      if (url === null) throw new ApiError(400, 'invalid_target', 'invalid request target');
      const matching = this.routes.filter((r) => r.pattern.test(url.pathname));
      const route = matching.find((r) => r.method === req.method);
      if (!route) {
        reply = matching.length > 0 ? { status: 405, body: { detail: 'method not allowed', code: 'method_not_allowed' } } : { status: 404, body: { detail: 'not found', code: 'not_found' } };
      } else {
        const refused = this.guard(route.access, req);
        if (refused) {
          // The body is not read: close rather than leave it in the connection.
          res.setHeader('connection', 'close');
          reply = refused;
        } else {
          const params = route.pattern.exec(url.pathname)!.slice(1);
          reply = await route.handler({ req, url, params, body: await this.readBody(req) });
        }
      }
    } catch (err) {
      const { status, code } = statusOf(err);
      if (status >= 500) this.logger.error({ err, url: req.url }, 'request failed');
      reply = { status, body: { detail: status >= 500 ? 'internal error' : (err as Error).message, code } };
    }
    if (res.headersSent) return;
    if (reply.text !== undefined) {
      res.writeHead(reply.status, { 'Content-Type': reply.contentType ?? 'text/plain; charset=utf-8' }).end(reply.text);
    } else if (reply.body === undefined) {
      res.writeHead(reply.status).end();
    } else {
      res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
    }
  }
}
