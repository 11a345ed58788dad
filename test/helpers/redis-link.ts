// A TCP link between the service and Redis that a test can cut: while cut,
// every connection through it is dropped and new ones are closed at once, as
// when a Redis node fails over or the network between them blinks.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class RedisLink {
  private readonly sockets = new Set<Socket>();
  private cut = false;

  private constructor(
    private readonly server: Server,
    /** redis:// URL of the link, for the service. */
    readonly url: string,
  ) {}

  /** A link to the Redis at `redisUrl` (redis://host:port), on a free loopback port. */
  static async open(redisUrl: string): Promise<RedisLink> {
    const target = new URL(redisUrl);
    let link: RedisLink | undefined;
    const server = createServer((client) => {
      if (link!.cut) return void client.destroy();
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        link!.sockets.add(a);
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          link!.sockets.delete(a);
          b.destroy();
        });
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    link = new RedisLink(server, `redis://127.0.0.1:${(server.address() as { port: number }).port}`);
    return link;
  }

  /** Drops every connection and refuses new ones until `restore`. */
  down(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise((r) => this.server.close(r));
  }
}
