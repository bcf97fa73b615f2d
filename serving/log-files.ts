/** A prediction log's files: rotation renames `p.jsonl` to `p.1.jsonl`, `p.1.jsonl` to `p.2.jsonl`, and so on. */
export const rotatedPath = (path: string, n: number): string => path.replace(/(\.jsonl)?$/, `.${n}$1`);

/** Every file a log may have, oldest first, so that their lines read in the order they were written. */
export const logFiles = (path: string, maxFiles: number): string[] => [
  ...Array.from({ length: maxFiles }, (_, i) => rotatedPath(path, maxFiles - i)),
  path,
];
