import type { ReleaseModeName } from '../../config/schema.js';
import type { ProgressTask } from '../../progress.js';
import type { ReleaseComparison, Server } from '../../step-outputs.js';
import type { ProxyClient } from '../proxy-client.js';

/**
 * How a new server goes live beside the champion (deploy.release). The rollout calls `hold` before
 * the server starts, `stage` once the proxy sees it ready, and `end` when the verdict is applied.
 */
export interface ReleaseStrategy {
  readonly mode: ReleaseModeName;
  /** Tells the proxy the server at `url` is new, before it starts: no client request reaches it by weight. */
  hold(proxy: ProxyClient, url: string): Promise<void>;
  /** Runs the stage and returns what the proxy measured; undefined when there is nothing to judge. */
  stage(proxy: ProxyClient, server: Server, task: ProgressTask): Promise<ReleaseComparison | undefined>;
  /** Ends the stage in the proxy: the new server joins the rotation, or has left it. */
  end(proxy: ProxyClient): Promise<void>;
}
