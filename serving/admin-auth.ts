import { timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';

/**
 * Guards admin routes with a bearer token, compared in constant time: 404 with `off` (how to turn
 * them on) when there is no token, 401 without the right one. Not hono's bearerAuth: it throws,
 * which the apps' onError would answer 500, and it answers a malformed header 400, in plain text.
 */
export function adminAuth(token: string | undefined, off: string) {
  const expected = Buffer.from(token ?? '');
  return createMiddleware(async (c, next) => {
    if (!token) return c.json({ error: off }, 404);
    const given = Buffer.from(c.req.header('authorization')?.replace(/^Bearer /i, '') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return c.json({ error: 'a valid bearer token is required' }, 401);
    await next();
  });
}
