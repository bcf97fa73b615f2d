import type { ReleaseMode } from '../../step-outputs.js';
import type { ReleaseStrategy } from './strategy.js';

const POLL_MS = 500;

/** When a stage ends: once `min_requests` reached the new server, or `duration` seconds passed, whichever is first. */
export interface StageEnd {
  duration?: number;
  min_requests?: number;
}

/** A stage the proxy runs (shadow or canary): the deploy starts it, watches its numbers, and ends it. */
export function stagedRelease(mode: ReleaseMode, share: number, end: StageEnd): ReleaseStrategy {
  return {
    mode,
    hold: (proxy, url) => proxy.startRelease(mode, url, share),
    async stage(proxy, server, task) {
      const deadline = end.duration === undefined ? Infinity : Date.now() + end.duration * 1000;
      const goal = end.min_requests === undefined ? '' : ` of ${end.min_requests}`;
      for (;;) {
        const report = await proxy.release();
        const enough = end.min_requests !== undefined && report.candidate.requests >= end.min_requests;
        if (enough || Date.now() >= deadline) return report;
        task.update(3, `${mode} of ${server.id}: ${report.candidate.requests}${goal} requests, ${report.candidate.errors} failed`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
    end: (proxy) => proxy.endRelease(),
  };
}
