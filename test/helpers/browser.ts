import { accessSync, constants, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Where a Chrome or Chromium is looked for when MLOPS_TEST_BROWSER names none, in .ci/run's order:
 * Google Chrome (a GitHub runner has it), then Debian's chromium. playwright's own browser download
 * cannot reach its host here.
 */
export const KNOWN_BROWSERS = ['/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/usr/bin/chromium'];

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** The browser MLOPS_TEST_BROWSER names (.ci/run sets it), else the first of KNOWN_BROWSERS installed. */
export function browserPath(): string | undefined {
  const named = process.env.MLOPS_TEST_BROWSER;
  if (!named) return KNOWN_BROWSERS.find(isExecutable);
  // A name that is wrong is a mistake to fix, not a browser to do without.
  if (!isExecutable(named)) throw new Error(`MLOPS_TEST_BROWSER=${named} is not an executable file`);
  return named;
}

/** True when a browser is found; in CI (`CI` set) its absence fails the test instead of skipping it. */
export function chromiumInstalled(): boolean {
  if (browserPath()) return true;
  const missing = `MLOPS_TEST_BROWSER is not set and none of ${KNOWN_BROWSERS.join(', ')} is installed`;
  if (process.env.CI) throw new Error(`no browser in CI: ${missing} (.ci/run finds or installs one and sets it)`);
  console.warn(`skipping browser tests: ${missing}`);
  return false;
}

/**
 * Headless Chrome or Chromium with a fresh profile (playwright passes it as --user-data-dir), quiet
 * on the network: nothing but the pages a test opens.
 */
export async function launchChromium(): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const executablePath = browserPath();
  if (!executablePath) throw new Error('no browser: check chromiumInstalled() first');
  const profile = await mkdtemp(join(tmpdir(), 'mlops-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
