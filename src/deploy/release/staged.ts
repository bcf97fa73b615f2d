import type { ReleaseMode } from '../../step-outputs.js';
import type { ReleaseStrategy } from './strategy.js';

const POLL_MS = 500;
/** Polls in a row that may find the new server out of rotation before the stage ends as failed: one failed health check is not a verdict. */
const OUT_OF_ROTATION_POLLS = 4;

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
      let out = 0;
      for (;;) {
        const [report, backends] = await Promise.all([proxy.release(), proxy.backends()]);
        const enough = end.min_requests !== undefined && report.candidate.requests >= end.min_requests;
        if (enough || Date.now() >= deadline) return report;
        // A new server that fell out of rotation gets no more of the stage's requests: waiting on would never end.
        const own = backends.find((b) => b.url === server.url);
        out = own?.healthy ? 0 : out + 1;
        if (out >= OUT_OF_ROTATION_POLLS) return { ...report, left_rotation: own?.last_error ?? 'the proxy no longer lists it' };
        task.update(3, `${mode} of ${server.id}: ${report.candidate.requests}${goal} requests, ${report.candidate.errors} failed`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    },
    end: (proxy) => proxy.endRelease(),
  };
}
