import { MlopsError } from '../errors.js';
import { answersOk, type HostRequest, type HostResponse } from './host-request.js';
import { pollUntil } from '../poll.js';
import type { ReleaseComparison, ReleaseMode, Server } from '../step-outputs.js';

export interface Backend {
  id: string;
  url: string;
  version: string;
  weight: number;
  healthy: boolean;
  /** Why it is out of rotation, when it is. */
  last_error?: string | null;
}

/** The project's proxy as the deployer sees it: what it balances over, and registration. */
export class ProxyClient {
  constructor(
    readonly url: string,
    private readonly token: string,
    private readonly request: HostRequest,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<HostResponse> {
    const res = await this.request(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).catch((err: unknown) => {
      throw new MlopsError('transient', `the proxy at ${this.url} did not answer: ${(err as Error).message}`, { cause: err });
    });
    if (res.status >= 300 && res.status !== 404)
      throw new MlopsError('transient', `the proxy refused ${method} ${path}: ${res.status} ${res.body}`);
    return res;
  }

  /** Whether the proxy answers its own /health. */
  healthy(): Promise<boolean> {
    return answersOk(this.request, `${this.url}/health`);
  }

  async backends(): Promise<Backend[]> {
    return JSON.parse((await this.call('GET', '/backends')).body) as Backend[];
  }

  /** Puts a process server into rotation (containers are discovered by their labels instead). */
  async register(server: Server): Promise<void> {
    await this.call('PUT', `/backends/${encodeURIComponent(server.id)}`, { url: server.url, version: server.version, weight: 1 });
  }

  /** Takes a server out of rotation: no new requests reach it. */
  async deregister(server: Server): Promise<void> {
    await this.call('DELETE', `/backends/${encodeURIComponent(server.id)}`);
  }

  /**
   * Starts a staged release of the server that will listen on `url`: the proxy holds it out of the
   * weighted rotation, and mirrors (shadow) or sends (canary) it `share` of the predictions.
   */
  async startRelease(mode: ReleaseMode, url: string, share: number): Promise<void> {
    const res = await this.call('PUT', '/release', { mode, url, share });
    if (res.status !== 200)
      throw new MlopsError('config', `the proxy at ${this.url} runs no staged releases (PUT /release answered ${res.status})`, {
        hint: 'it predates deploy.release shadow and canary: `mlops undeploy` and deploy again to start a current proxy',
      });
  }

  /** What the proxy measured in the release so far. */
  async release(): Promise<ReleaseComparison> {
    const res = await this.call('GET', '/release');
    if (res.status !== 200) throw new MlopsError('transient', `the proxy at ${this.url} lost the release (restarted?): ${res.body}`);
    return JSON.parse(res.body) as ReleaseComparison;
  }

  /** Ends the release: the new server joins the rotation as any other, unless it left it. */
  async endRelease(): Promise<void> {
    await this.call('DELETE', '/release');
  }

  /** Waits until the proxy balances over the server: it discovered it and its health check passed. */
  async waitFor(server: Server, timeoutMs: number): Promise<void> {
    await pollUntil(
      timeoutMs,
      async () => (await this.backends()).some((b) => b.url === server.url && b.healthy && b.weight > 0),
      () => {
        throw new MlopsError('transient', `the proxy at ${this.url} did not take ${server.id} into rotation within ${timeoutMs / 1000}s`);
      },
    );
  }
}
