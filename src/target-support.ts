/**
 * What each deploy target supports, by name. The config's rules on deploy.* (config/schema.ts) and
 * the deploy side (deploy/targets.ts, each Fleet) both read this table, which imports neither: the
 * config is checked without loading the targets' code (Docker's client, say).
 */
export interface TargetSupport {
  /**
   * Why a shadow or canary stage cannot run there, for the error that says so; none where the proxy
   * can hold one server, by its url, out of rotation.
   */
  noStages?: string;
  /** Whether a version runs as several tasks, which `mlops scale` changes (Fleet.scale). */
  scaling: boolean;
  /** Whether it runs the image `mlops build` makes: a run builds and pushes one only for these targets. */
  image: boolean;
}

/** The targets this project ships; each has its Fleet in deploy/targets.ts. */
export const builtInTargets = ['local', 'docker', 'swarm'] as const;
export type BuiltInTarget = (typeof builtInTargets)[number];

export const builtInSupport: Readonly<Record<BuiltInTarget, TargetSupport>> = {
  local: { scaling: false, image: false },
  docker: { scaling: false, image: true },
  swarm: { noStages: 'a swarm version is a service of several tasks', scaling: true, image: true },
};

const table = new Map<string, TargetSupport>(Object.entries(builtInSupport));

/** Adds a target's entry: registerTarget (deploy/targets.ts) does, for a target outside this project. */
export function addTargetSupport(name: string, support: TargetSupport): void {
  if (name === 'none') throw new Error('deploy.target none means no target: it cannot name one');
  table.set(name, support);
}

/** The targets a release can go to: deploy.target names one of these, or none. */
export const deployTargets = (): string[] => [...table.keys()];

/** What `target` supports; undefined for a name that is no target. */
export const targetSupport = (target: string): TargetSupport | undefined => table.get(target);

/** Why a `mode` stage cannot run on `target`, the error both the config check and the rollout give; undefined when it can. */
export function stagesRefused(target: string, mode: string): string | undefined {
  const why = mode === 'direct' ? undefined : table.get(target)?.noStages;
  return why && `a ${mode} stage holds one server out of rotation, and ${why}: deploy.target ${target} releases directly`;
}

/** The targets that can run a shadow or canary stage, for the hint that names them. */
export const stagingTargets = (): string[] => deployTargets().filter((t) => !table.get(t)!.noStages);
