/**
 * Requests that Node's HTTP parser refuses before any handler sees them — ambiguous framing
 * (Content-Length with Transfer-Encoding, two Content-Lengths), a bad Transfer-Encoding or chunk,
 * malformed headers — are answered like every other bad input: a 400 with a JSON error body, then
 * the connection is closed (what follows on it cannot be trusted). Headers too large → 431.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

function rawAnswer(status: number, statusText: string, body: object): string {
  const json = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${statusText}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`;
}

export function answerMalformedRequests(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    // A response is being written on this connection (e.g. the proxy's 400 for the request whose
    // body the parser now reads as garbage): it answers; close once it is out.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inFlight) {
      inFlight.once('finish', () => socket.destroy());
      return;
    }
    const answer =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? rawAnswer(431, 'Request Header Fields Too Large', { error: 'bad_request', reason: 'request headers too large' })
        : rawAnswer(400, 'Bad Request', {
            error: 'bad_request',
            reason: `malformed HTTP request (${err.code ?? 'parse error'}): ambiguous or invalid framing or headers`,
          });
    socket.end(answer);
  });
}
