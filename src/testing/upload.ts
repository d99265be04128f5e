import { request } from 'node:http';

/** What a client uploading a body got back. */
export interface Uploaded {
  status: number;
  headers: Headers;
  text: string;
  /** The error the client's own writing met (EPIPE, ECONNRESET) after the answer had arrived, if any. */
  sendError?: string;
}

export interface UploadOptions {
  headers?: Record<string, string>;
  /** Bytes of spaces to send. */
  size: number;
  /** Send `Content-Length` and the whole body at once (default), or stream it chunked, with no length, in 64 KiB pieces. */
  chunked?: boolean;
}

const CHUNK = 64 * 1024;

/**
 * A client uploading a large body the way curl, fetch or a proxy does: node:http, a new connection,
 * and the answer read whenever it comes, even before the upload is over. Rejects only when no answer arrived at all (the server
 * reset the connection before the client could read it).
 */
export function upload(url: string, { headers = {}, size, chunked = false }: UploadOptions): Promise<Uploaded> {
  return new Promise((resolve, reject) => {
    const sent = { ...headers };
    if (!chunked) sent['content-length'] = String(size);
    let answered = false;
    let sendError: string | undefined;
    const req = request(url, { method: 'POST', headers: sent, agent: false }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        const answer: Uploaded = { status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text };
        // The socket may report the failed write just after the answer's end: let it.
        setImmediate(() => resolve(sendError === undefined ? answer : { ...answer, sendError }));
      });
      res.on('error', (err) => reject(err));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) sendError = err.code ?? err.message;
      else reject(err);
    });
    if (!chunked) {
      // The whole body handed over at once, as fetch or curl do with a buffer or a file.
      req.end(Buffer.alloc(size, 0x20));
      return;
    }
    // Streamed as it is produced, as a piped file or a proxy does.
    let left = size;
    const pump = () => {
      while (left > 0 && !req.destroyed) {
        const n = Math.min(CHUNK, left);
        left -= n;
        if (!req.write(Buffer.alloc(n, 0x20))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}
