import { createMiddleware } from 'hono/factory';
import { readBody } from './read-body.js';

const utf8 = new TextDecoder();

/** Sets the context's `body` to the JSON request body, as text (for the prediction log) and parsed; answers 415, 413 or 400 instead. */
export const jsonBody = (maxBytes: number) =>
  createMiddleware<{ Variables: { body: { text: string; value: unknown } } }>(async (c, next) => {
    if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('application/json'))
      return c.json({ error: 'expected Content-Type: application/json' }, 415);
    const bytes = await readBody(c.req.raw, maxBytes);
    if (!bytes) {
      // The rest of the body is never read, so the connection cannot carry another request.
      c.header('connection', 'close');
      return c.json({ error: `the body is over serving.max_body_bytes (${maxBytes} bytes)` }, 413);
    }
    const text = utf8.decode(bytes);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return c.json({ error: `malformed JSON: ${(err as Error).message}` }, 400);
    }
    c.set('body', { text, value });
    await next();
  });
