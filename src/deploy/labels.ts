/**
 * The labels of what the project runs on a Docker engine (containers, services, volumes, images):
 * how a fleet finds its servers again, and how the proxy's discovery finds them at all. The deploy
 * side writes them and serving/ reads them, from here only.
 */
export const LABEL = {
  project: 'mlops.project',
  role: 'mlops.role',
  /** A server's port; a swarm service's first port. */
  port: 'mlops.port',
  version: 'mlops.model.version',
  /** A server's share of new requests; 0 drains it. */
  weight: 'mlops.weight',
  /** A swarm service's ports, one per task slot. */
  slots: 'mlops.slots',
  /** The proxy container's address and discovery: a change of either replaces it. */
  host: 'mlops.host',
  discovery: 'mlops.discovery',
  /** An image's run, and its metrics as `mlops.metric.<name>`: for a person choosing a version. */
  runId: 'mlops.run_id',
  metric: (name: string) => `mlops.metric.${name}`,
} as const;

/** What a labelled object is to the project. */
export type Role = 'server' | 'proxy' | 'swarm-task' | 'predictions' | 'log-reader';

/** The labels every object of the project carries. */
export const projectLabels = (project: string, role: Role): Record<string, string> => ({ [LABEL.project]: project, [LABEL.role]: role });

/** The engine's filter for the project's objects, of one role when given. */
export const projectFilter = (project: string, role?: Role): string[] => [
  `${LABEL.project}=${project}`,
  ...(role ? [`${LABEL.role}=${role}`] : []),
];
