import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A close for an HTTP server that ends. Node's `server.close()` ends only the connections idle at
 * that moment and stops the check that times out the others, so two kinds would hold it open for
 * good: a connection a browser opened ahead of need (no request on it yet), and a kept-alive one
 * whose request finishes after the close. This one stops accepting, ends every connection with no
 * request in flight at once, and each other one as its last response finishes: in-flight requests
 * are answered, nothing more waits.
 *
 * Call it right after creating the server, before it accepts anything.
 */
export function closable(server: Server): () => Promise<void> {
  const inFlight = new Map<Socket, Set<ServerResponse>>();
  let closing = false;

  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, new Set());
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (req, res: ServerResponse) => {
    const responses = inFlight.get(req.socket);
    if (!responses) return;
    responses.add(res);
    if (closing) lastOnItsConnection(res);
    res.once('close', () => {
      responses.delete(res);
      if (closing && responses.size === 0) req.socket.end();
    });
  });

  return () => {
    closing = true;
    const closed = new Promise<void>((done) => server.close(() => done()));
    for (const [socket, responses] of inFlight) {
      if (responses.size === 0) socket.destroy();
      else responses.forEach(lastOnItsConnection);
    }
    return closed;
  };
}

/** A response not yet started says `Connection: close`, so Node ends its connection once it is sent. */
function lastOnItsConnection(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close');
}
