// Shared steps of the code-server drivers (inline.mjs, edit.mjs, chat.mjs, ...): launch Debian's
// Chromium headless, open the workbench, wait for the qwenpair server, open a file, run a
// command from the palette, wait for ghost text, read the editor (and wait for it to change),
// and save a screenshot when a run fails.
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

/** The active editor's lines, top to bottom (Monaco positions them, in no DOM order); runs in the page. */
const readLines = () =>
  [...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines .view-line')]
    .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
    .map((l) => l.textContent.replace(/\u00a0/g, ' '));

/** The active editor's lines, top to bottom. */
export function editorLines(page) {
  return page.evaluate(readLines);
}

/**
 * Waits for ghost text (containing {expect}, if given). VS Code asks once per keystroke; an
 * answer that came back empty (the server was still busy) is asked again the way a user would:
 * Alt+\ (Trigger Inline Suggestion), up to {attempts} times. Returns the ghost text's locator.
 */
export async function waitForGhost(page, expect = undefined, attempts = 4) {
  const ghostText = page.locator('.monaco-editor .ghost-text-decoration', expect ? { hasText: expect } : {}).first();
  for (let attempt = 1; ; attempt++) {
    try {
      await ghostText.waitFor({ timeout: 15000 });
      return ghostText;
    } catch (err) {
      if (attempt === attempts) throw err;
      step(`no ghost text${expect ? ` with ${expect}` : ''} yet, triggering (${attempt})`);
      await page.keyboard.press('Alt+Backslash');
    }
  }
}

/** Waits until the active editor's lines (as editorLines reads them) are no longer {old}. */
export function waitForChange(page, old, timeout = 30000) {
  return page.waitForFunction(`JSON.stringify((${readLines})()) !== ${JSON.stringify(JSON.stringify(old))}`, null, {
    timeout,
  });
}
