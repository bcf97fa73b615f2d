import { z } from 'zod';
import { monitoredMetrics, type HistoryEntry } from '../monitor/report.js';

/**
 * The schemas of the registry's files, checked on every write and every read: a hand-edited,
 * truncated or foreign file is a data error naming the file and its first bad key
 * (`file_invalid`), never a crash deeper in. This module stays light (zod only), because the
 * prediction server reads manifests too.
 */

/** `v<N>`: the folder name of a version, and what an alias points at. */
export const versionName = z.string().regex(/^v\d+$/, 'expected a version such as v3');
const runId = z.string().regex(/^[\w.-]+$/, "expected a run id (letters, digits, '.', '-' or '_')");
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 checksum (64 hex digits)');
/** A file of the version's own folder: no path, so a manifest never points outside it. */
const fileName = z.string().regex(/^(?!\.\.?$)[^/\\]+$/, 'expected a file name in the version folder, without a path');
const isoTime = z.iso.datetime({ offset: true, error: 'expected an ISO time such as 2026-01-31T12:00:00.000Z' });

/** `versions/v<N>/manifest.json`: written once when the version is registered, never changed. */
export const manifestSchema = z.object({
  version: versionName,
  createdAt: isoTime,
  runId,
  /** File name -> sha256. */
  files: z.record(fileName, sha256),
  /** Anything worth listing without opening the files: key metrics, the gate decision. */
  summary: z.record(z.string(), z.unknown()),
});
export interface VersionManifest {
  version: string;
  createdAt: string;
  runId: string;
  /** File name -> sha256. */
  files: Record<string, string>;
  /** Anything worth listing without opening the files: key metrics, the gate decision. */
  summary: Record<string, unknown>;
}

/** `aliases.json`: alias (`champion`, `previous`) -> version. */
export const aliasesSchema = z.record(z.string().min(1), versionName);
export type Aliases = z.output<typeof aliasesSchema>;

/**
 * The tags the pipeline sets on a version (`versions/v<N>/tags.json`): facts learnt after it was
 * recorded. Set them with `registry.tag(version, { ... })`, read them with `registry.tags(version)`.
 */
export const knownTagsSchema = z.object({
  /** The prediction image built for the version (`mlops build`). */
  image: z.string().min(1).optional(),
  /** The digest the image was pushed as (`mlops push`). */
  digest: z
    .string()
    .regex(/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'expected an image digest such as sha256:<hex>')
    .optional(),
  /** `<repository>@<digest>`: what a server on another host pulls. */
  reference: z.string().min(1).optional(),
  /** When the version last finished rolling out, and where to. */
  deployed_at: isoTime.optional(),
  deploy_target: z.string().min(1).optional(),
  /** When and why it was retired: unfit to serve, deploy refuses it. */
  retired_at: isoTime.optional(),
  retired_reason: z.string().optional(),
});
export type VersionTags = z.output<typeof knownTagsSchema>;

/** The file: the known tags, and any of the user's own (string values), kept as they are. */
export const tagsFileSchema = knownTagsSchema.catchall(z.string());

const count = z.number().int().nonnegative();
const breach = z.object({
  metric: z.enum(monitoredMetrics),
  feature: z.string().optional(),
  value: z.number(),
  threshold: z.number(),
});

/** `monitoring/<version>/<end>-<runId>.json`: one version's results of one monitor run. */
export const historyEntrySchema = z.object({
  version: versionName,
  inRegistry: z.boolean(),
  predictions: count,
  requests: count,
  failed: z.record(z.string(), count),
  errorRate: z.number().nullable(),
  latencyMs: z.object({ p50: z.number(), p95: z.number(), p99: z.number() }).nullable(),
  outlierRate: z.number().nullable(),
  psi: z.record(z.string(), z.number()),
  classes: z.record(z.string(), z.object({ served: z.number(), training: z.number() })).nullable(),
  classPsi: z.number().nullable(),
  notJudged: z.array(z.string()),
  breaches: z.array(breach),
  runId,
  generatedAt: isoTime,
  window: z.object({ duration: z.string(), start: isoTime, end: isoTime }),
});

// Each schema and the type its readers use must describe the same thing: this fails to compile when they drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const matches: [Same<z.output<typeof manifestSchema>, VersionManifest>, Same<z.output<typeof historyEntrySchema>, HistoryEntry>] = [
  true,
  true,
];
void matches;
