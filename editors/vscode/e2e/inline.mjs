// Drives a running code-server in headless Chromium: opens FILE, waits until the qwenpair
// status-bar item shows MODEL_LABEL (server up, model loaded), types TYPED at the end of the
// file, waits for an inline suggestion (ghost text), accepts it with Tab and prints JSON:
// {status, ghost, lines} (the editor's lines after Tab). Screenshots go to SHOTS_DIR.
// Usage: node inline.mjs URL FILE MODEL_LABEL TYPED SHOTS_DIR
import { chromium } from 'playwright-core';

const [url, file, modelLabel, typed, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'], // root in CI has no user namespace sandbox
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const step = (name) => console.error(`step: ${name}`);
try {
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
  step('workbench');
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget', { state: 'visible' });
  await page.keyboard.type(file);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${file}"]`, { timeout: 30000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
  step('editor');
  // The item names the model as soon as it is chosen; "loading model" goes once it is ready.
  const status = page.locator('.statusbar-item', { hasText: modelLabel, hasNotText: 'loading' }).first();
  await status.waitFor({ timeout: 120000 });
  step('server');
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(typed, { delay: 30 });
  // VS Code asks once per keystroke; an answer that came back empty (the server was still
  // busy) is asked again the way a user would: Alt+\ (Trigger Inline Suggestion).
  const ghostLocator = page.locator('.monaco-editor .ghost-text-decoration').first();
  for (let attempt = 1; ; attempt++) {
    try {
      await ghostLocator.waitFor({ timeout: 15000 });
      break;
    } catch (err) {
      if (attempt === 6) throw err;
      step(`no ghost text yet, triggering (${attempt})`);
      await page.keyboard.press('Alt+Backslash');
    }
  }
  const ghost = await ghostLocator.textContent();
  await page.screenshot({ path: `${shots}/ghost.png` });
  step('ghost');
  await page.keyboard.press('Tab');
  await page.locator('.monaco-editor .ghost-text-decoration').first().waitFor({ state: 'detached', timeout: 10000 });
  // Monaco renders lines absolutely positioned, in no particular DOM order: sort by top.
  const lines = await page.evaluate(() =>
    [...document.querySelectorAll('.monaco-editor .view-lines .view-line')]
      .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
      .map((l) => l.textContent.replace(/\u00a0/g, ' ')),
  );
  await page.screenshot({ path: `${shots}/accepted.png` });
  console.log(JSON.stringify({ status: await status.textContent(), ghost, lines }));
} catch (err) {
  await page.screenshot({ path: `${shots}/failure.png` });
  console.error(`FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
