/** Numbers as the CLI report and the job summary show them: counts with thousands separators, measures to 4 decimals. */
export const count = (n: number) => n.toLocaleString('en-US');

/** A metric or a bound: an integer as a count, else 4 decimals; `missing` for none (or a non-number). */
export const measure = (v: unknown, missing = '-') => (typeof v === 'number' ? (Number.isInteger(v) ? count(v) : v.toFixed(4)) : missing);

/** A share as a percentage to one decimal, `12.5%`; `missing` for none. */
export const rate = (v: number | null, missing = '–') => (v === null ? missing : `${(v * 100).toFixed(1)}%`);

/** Text quoted from a file in a message, cut to `max` characters: a hostile file must not flood the log. */
export const excerpt = (text: string, max = 80) => (text.length > max ? `${text.slice(0, max)}…` : text);
