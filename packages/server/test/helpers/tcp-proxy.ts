/**
 * A TCP proxy on loopback that a test can "hang": while hung it accepts connections and reads bytes but forwards
 * nothing in either direction, as a PostgreSQL that stopped answering (SIGSTOP) looks from outside. `resume()`
 * forwards what was held, in order.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  readonly port: number;
  hang(): void;
  resume(): void;
  close(): Promise<void>;
}

interface Pipe {
  client: Socket;
  upstream: Socket | null;
  /** Bytes held while hung, per direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let hung = false;
  const pipes = new Set<Pipe>();
  const flush = (pipe: Pipe) => {
    if (!pipe.upstream) pipe.upstream = openUpstream(pipe);
    for (const chunk of pipe.toUpstream.splice(0)) pipe.upstream.write(chunk);
    for (const chunk of pipe.toClient.splice(0)) pipe.client.write(chunk);
  };
  const openUpstream = (pipe: Pipe): Socket => {
    const upstream = connect(target);
    upstream.on('data', (chunk) => (hung ? pipe.toClient.push(chunk) : pipe.client.write(chunk)));
    upstream.on('error', () => pipe.client.destroy());
    upstream.on('close', () => pipe.client.destroy());
    return upstream;
  };
  const server: Server = createServer((client) => {
    const pipe: Pipe = { client, upstream: null, toUpstream: [], toClient: [] };
    pipes.add(pipe);
    if (!hung) pipe.upstream = openUpstream(pipe);
    client.on('data', (chunk) => (hung || !pipe.upstream ? pipe.toUpstream.push(chunk) : pipe.upstream.write(chunk)));
    client.on('error', () => {});
    client.on('close', () => {
      pipes.delete(pipe);
      pipe.upstream?.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    hang: () => {
      hung = true;
    },
    resume: () => {
      hung = false;
      for (const pipe of pipes) flush(pipe);
    },
    close: async () => {
      for (const pipe of pipes) {
        pipe.client.destroy();
        pipe.upstream?.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
