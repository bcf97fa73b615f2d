import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { registerSecret } from '../src/secrets.js';

const logged = (annotate: boolean, write: (log: ReturnType<typeof createLogger>) => void) => {
  const lines: string[] = [];
  write(createLogger({ annotate, write: (line) => lines.push(line) }));
  return lines;
};

describe('the log on a GitHub runner', () => {
  it('turns a warning into a workflow command, so that it shows as an annotation on the run', () => {
    expect(logged(true, (log) => log.warn('Issues are disabled', { step: 'monitor' }))).toEqual([
      '::warning::Issues are disabled step=monitor',
    ]);
  });

  it('escapes what would end the command early, and still scrubs secrets', () => {
    registerSecret('s3cr3t-token-value');
    expect(logged(true, (log) => log.warn('100% down\nnext line s3cr3t-token-value'))).toEqual(['::warning::100%25 down%0Anext line ***']);
  });

  it('writes plain lines off a runner, and info and errors plainly on one', () => {
    expect(logged(false, (log) => log.warn('careful'))).toEqual(['warn: careful']);
    expect(logged(true, (log) => (log.info('rows 5'), log.error('broke')))).toEqual(['rows 5', 'error: broke']);
  });
});
