/**
 * Where the registry's folder lives and how it is read and written: the one thing the backends
 * differ in (as MLflow's tracking and model-registry stores are pluggable under one API). The
 * registry's logic (registry.ts) runs every operation inside `read` or `transact`, given the
 * folder to work on, so a store decides alone what happens around it: a lock, and for the git
 * store, a sync before and a commit and push after.
 */
export interface RegistryStore {
  /**
   * Where a copy of each finished run's ledger is kept, as `runs/<runId>.json` (for messages:
   * "the registry branch"); undefined when the store keeps none.
   */
  readonly runArchive?: string;

  /** Runs `work` on the registry's latest state; it must write nothing. */
  read<T>(work: (root: string) => Promise<T>): Promise<T>;

  /**
   * Runs `work`, which writes, as one change: holding the lock (waiting up to `waitMs`, or the
   * store's default), on the latest state. A store that keeps a history records the change under
   * `message(result)`; one that publishes it may run `work` again on a newer state, so `work`
   * must derive everything it writes from what it reads in `root`.
   */
  transact<T>(work: (root: string) => Promise<T>, message: (result: T) => string, waitMs?: number): Promise<T>;
}
