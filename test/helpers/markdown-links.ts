import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The lines of a markdown file outside its fenced code blocks. */
const prose = (markdown: string): string[] => {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced;
  });
};

/** The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
export const headingAnchors = (markdown: string): Set<string> => {
  const anchors = new Set<string>();
  for (const line of prose(markdown)) {
    const heading = /^#+ (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
};

/** The links of the given files, relative to the repository, whose file or heading does not exist: `file: target`. */
export const brokenLinks = (files: string[]): string[] =>
  files.flatMap((file) =>
    prose(readFileSync(file, 'utf8')).flatMap((line) =>
      [...line.matchAll(/\]\(([^)\s]+)\)/g)]
        .map((m) => m[1]!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .filter((target) => {
          const [path = '', anchor] = target.split('#');
          const linked = path ? join(dirname(file), path) : file;
          if (!existsSync(linked)) return true;
          return anchor !== undefined && !headingAnchors(readFileSync(linked, 'utf8')).has(anchor);
        })
        .map((target) => `${file}: ${target}`),
    ),
  );
