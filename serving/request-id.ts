import { randomUUID } from 'node:crypto';
import { createMiddleware } from 'hono/factory';

const VALID = /^[\w.:-]{1,128}$/;

/**
 * Sets the context's `requestId` and the X-Request-Id response header: the client's own id when it is a
 * plain token (it goes into JSON text unescaped), else a new UUID. Not hono's requestId: it refuses
 * the "." and ":" that ids such as trace ids carry.
 */
export const requestId = () =>
  createMiddleware<{ Variables: { requestId: string } }>(async (c, next) => {
    const given = c.req.header('x-request-id');
    const id = given && VALID.test(given) ? given : randomUUID();
    c.set('requestId', id);
    c.header('x-request-id', id);
    await next();
  });
