import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium, as .ci/run installs it: playwright's own browser download cannot reach its host here. */
export const CHROMIUM = '/usr/bin/chromium';

/** True when Debian's chromium is installed; in CI (`CI` set) its absence fails the test instead of skipping it. */
export function chromiumInstalled(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`no ${CHROMIUM} in CI: .ci/run must apt-get install chromium`);
  console.warn(`skipping browser tests: no ${CHROMIUM} (apt-get install chromium)`);
  return false;
}

/**
 * Headless chromium with a fresh profile (playwright passes it as --user-data-dir), quiet on the
 * network: nothing but the pages a test opens.
 */
export async function launchChromium(): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'mlops-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
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
