/** Opening a report in Debian's Chromium with puppeteer-core (no browser download), shared by the report tests. */
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export function findChromium(): string | undefined {
  if (process.env.CHROME_PATH && existsSync(process.env.CHROME_PATH)) return process.env.CHROME_PATH;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      const found = execFileSync('which', [name], { encoding: 'utf8' }).trim();
      if (found) return found;
    } catch {
      // not on PATH
    }
  }
  console.warn('report browser tests skipped: no Chromium found (set CHROME_PATH, or apt-get install chromium)');
  return undefined;
}

/**
 * Opens DIR/PAGE from file://, records console errors, failed and non-file requests, scrolls through so
 * lazy images load, and returns each image's natural width (0: did not decode).
 */
export async function launchChromium(chromium: string): Promise<import('puppeteer-core').Browser> {
  const puppeteer = await import('puppeteer-core');
  return puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
}

/**
 * With a path, launches its own browser (close it with `browser.close()`); with a browser, opens a new
 * page in it (close that with `page.close()`), which saves a browser start per page.
 */
export async function openReport(chromium: string | import('puppeteer-core').Browser, dir: string, shot: string, file = 'index.html') {
  const browser = typeof chromium === 'string' ? await launchChromium(chromium) : chromium;
  const page = await browser.newPage();
  const errors: string[] = [];
  const failed: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) failed.push(`network request: ${r.url()}`);
  });
  await page.setViewport({ width: 1200, height: 900 });
  await page.goto(pathToFileURL(path.join(dir, file)).href, { waitUntil: 'load' });
  await page.evaluate(async () => {
    for (let y = 0; y < document.body.scrollHeight; y += 400) {
      window.scrollTo(0, y);
      await new Promise((r) => setTimeout(r, 20));
    }
    window.scrollTo(0, 0);
    await Promise.all(Array.from(document.images).map((i) => (i.complete ? null : new Promise((r) => (i.onload = i.onerror = r)))));
  });
  const images = await page.$$eval('img', (imgs) => imgs.map((i) => ({ src: i.getAttribute('src'), width: (i as HTMLImageElement).naturalWidth })));
  return { browser, page, errors, failed, images, shot: path.join(dir, shot) };
}
