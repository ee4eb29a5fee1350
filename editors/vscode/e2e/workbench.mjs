// Shared steps of the code-server drivers (inline.mjs, edit.mjs, chat.mjs): launch Debian's
// Chromium headless, open the workbench, wait for the qwenpair server, open a file, run a
// command from the palette, read the editor, and save a screenshot when a run fails.
import { chromium } from 'playwright-core';

/** Runs {body(page)} in a fresh workbench page at {url}; prints its JSON result. */
export async function drive(url, shots, body) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // root in CI has no user-namespace sandbox; containers often have a tiny /dev/shm
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    console.log(JSON.stringify(await body(page)));
  } catch (err) {
    await page.screenshot({ path: `${shots}/failure.png` });
    console.error(`FAILED: ${err.message}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

export const step = (name) => console.error(`step: ${name}`);

/** Waits until the qwenpair status-bar item names {label} and no longer says "loading". */
export async function waitForModel(page, label) {
  const item = page.locator('.statusbar-item', { hasText: label, hasNotText: 'loading' }).first();
  await item.waitFor({ timeout: 120000 });
  step('server');
  return item;
}

/** Opens {file} with Quick Open and waits for its editor. */
export async function openFile(page, file) {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget', { state: 'visible' });
  await page.keyboard.type(file);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${file}"]`, { timeout: 30000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
}

/** Runs the palette command titled {title}. */
export async function runCommand(page, title) {
  await page.keyboard.press('F1');
  await page.keyboard.type(title);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${title.split(': ').pop()}"]`, { timeout: 30000 });
  await page.keyboard.press('Enter');
}

/** The active editor's lines, top to bottom (Monaco positions them, in no DOM order). */
export function editorLines(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines .view-line')]
      .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
      .map((l) => l.textContent.replace(/\u00a0/g, ' ')),
  );
}
