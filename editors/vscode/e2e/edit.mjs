// Drives a running code-server in headless Chromium through "qwenpair: Edit Selection with
// Instruction": opens FILE, waits until the status-bar item shows MODEL_LABEL (model loaded),
// selects line LINE (Ctrl+L), runs the command, types INSTRUCTION, clicks Accept under the
// diff, and prints JSON {lines} (the editor's lines after the edit). Screenshots: SHOTS_DIR.
// Usage: node edit.mjs URL FILE MODEL_LABEL LINE INSTRUCTION SHOTS_DIR
import { chromium } from 'playwright-core';

const [url, file, modelLabel, line, instruction, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'], // root in CI has no user namespace sandbox
});
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const step = (name) => console.error(`step: ${name}`);
const editorLines = () =>
  page.evaluate(() =>
    [...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines .view-line')]
      .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
      .map((l) => l.textContent.replace(/\u00a0/g, ' ')),
  );
try {
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget', { state: 'visible' });
  await page.keyboard.type(file);
  await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${file}"]`, { timeout: 30000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30000 });
  await page.locator('.statusbar-item', { hasText: modelLabel, hasNotText: 'loading' }).first().waitFor({ timeout: 120000 });
  step('server');
  const before = await editorLines();
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+G');
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+L'); // select the whole line
  await page.keyboard.press('F1');
  await page.keyboard.type('qwenpair: Edit Selection with Instruction');
  await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="Edit Selection"]', { timeout: 30000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector('.quick-input-widget input[placeholder*="type hints"]', { timeout: 30000 });
  await page.keyboard.type(instruction);
  await page.keyboard.press('Enter');
  step('asked');
  const accept = page.locator('.notifications-toasts .monaco-button', { hasText: 'Accept' }).first();
  await accept.waitFor({ timeout: 120000 });
  await page.screenshot({ path: `${shots}/diff.png` });
  step('diff shown');
  await accept.click();
  await page.waitForFunction(
    (old) => {
      const lines = [...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines .view-line')];
      return lines.length > 0 && !document.querySelector('.editor-group-container.active .monaco-diff-editor')
        && JSON.stringify(lines.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
          .map((l) => l.textContent.replace(/\u00a0/g, ' '))) !== old;
    },
    JSON.stringify(before),
    { timeout: 30000 },
  );
  await page.screenshot({ path: `${shots}/edited.png` });
  console.log(JSON.stringify({ before, lines: await editorLines() }));
} catch (err) {
  await page.screenshot({ path: `${shots}/failure.png` });
  console.error(`FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
