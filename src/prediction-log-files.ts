/** A prediction log's files: rotation renames `p.jsonl` to `p.1.jsonl`, `p.1.jsonl` to `p.2.jsonl`, and so on. */
export const rotatedPath = (path: string, n: number): string => path.replace(/(\.jsonl)?$/, `.${n}$1`);

/** Every file a log may have, oldest first, so that their lines read in the order they were written. */
export const logFiles = (path: string, maxFiles: number): string[] => [
  ...Array.from({ length: maxFiles }, (_, i) => rotatedPath(path, maxFiles - i)),
  path,
];

/** The inverse of rotatedPath for a file name: `p.2.jsonl` is rotation 2 of `p.jsonl`, `p.jsonl` itself rotation 0. */
export function rotationOf(name: string): { log: string; n: number } | undefined {
  const m = /^(.+?)(?:\.(\d+))?\.jsonl$/.exec(name);
  return m ? { log: m[1]!, n: Number(m[2] ?? 0) } : undefined;
}
