// Drives a running code-server in headless Chromium through the qwenpair chat view: waits
// until the status-bar item shows MODEL_LABEL (model loaded), opens the view with
// "qwenpair: Open Chat", asks QUESTION in its webview and prints JSON {question, answer}
// (the texts the webview shows once the answer is complete). Screenshots go to SHOTS_DIR.
// Usage: node chat.mjs URL MODEL_LABEL QUESTION SHOTS_DIR
import { chromium } from 'playwright-core';

const [url, modelLabel, question, shots] = process.argv.slice(2);
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
  await page.locator('.statusbar-item', { hasText: modelLabel, hasNotText: 'loading' }).first().waitFor({ timeout: 120000 });
  step('server');
  await page.keyboard.press('F1');
  await page.keyboard.type('qwenpair: Open Chat');
  await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="Open Chat"]', { timeout: 30000 });
  await page.keyboard.press('Enter');
  // A VS Code webview is an iframe holding the extension's page in an inner iframe.
  const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await view.locator('#question').fill(question);
  await view.locator('#ask button[type=submit]').click();
  step('asked');
  const answer = view.locator('.answer:not(.streaming)').first();
  await answer.waitFor({ timeout: 120000 });
  await page.screenshot({ path: `${shots}/chat.png` });
  console.log(JSON.stringify({
    question: await view.locator('.question').first().textContent(),
    answer: await answer.textContent(),
  }));
} catch (err) {
  await page.screenshot({ path: `${shots}/failure.png` });
  console.error(`FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
