import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CATALOGUE, FreshcacheError, type ErrorCode } from 'freshcache';
import type { Logger } from '../observability/logger.js';
import { lingerBeforeClose } from './lingering-close.js';

/** Fastify's own errors for bad requests, mapped onto the catalogue. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_VALIDATION: 'bad_request',
};

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string', enum: Object.keys(ERROR_CATALOGUE) }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export function toErrorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

/**
 * Every error leaves as `{ error: { code, message } }`; a bad request is never a 500. Errors are
 * mapped by their FreshcacheError code only: adapters code their own failures (an unreachable
 * Redis is `store_unavailable`, PostgreSQL `origin_unavailable`), so nothing here knows their classes.
 */
export function registerErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((error: FastifyError | FreshcacheError | Error, request, reply) => {
    reply.header('x-request-id', request.id);
    if (error instanceof FreshcacheError) {
      if (error.status >= 500) logger.error({ err: error, reqId: request.id, url: request.url }, error.message);
      return reply.status(error.status).send(toErrorBody(error.code, error.message));
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const where = fastifyError.validationContext ?? 'request';
      return reply.status(400).send(toErrorBody('bad_request', `${where}${fastifyError.message.replace(/^(body|params|querystring|headers)/, '')}`));
    }
    if (error instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.status(400).send(toErrorBody('bad_request', `body is not valid JSON: ${error.message}`));
    }
    const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
    // Refused before its body was read: read the rest, so that the client gets the answer.
    if (mapped === 'body_too_large' || mapped === 'unsupported_media_type') lingerBeforeClose(request.raw);
    if (mapped) return reply.status(ERROR_CATALOGUE[mapped].status).send(toErrorBody(mapped, error.message));
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.status(status).send(toErrorBody(status === 404 ? 'not_found' : 'bad_request', error.message));
    }
    logger.error({ err: error, reqId: request.id, url: request.url }, 'unhandled error');
    return reply.status(500).send(toErrorBody('internal', `internal error (request id ${request.id})`));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.header('x-request-id', request.id);
    reply.status(404).send(toErrorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}
