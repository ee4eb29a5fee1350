// The qwenpair chat view in code-server: waits for the model (status-bar item shows
// MODEL_LABEL), opens the view with "qwenpair: Open Chat", asks QUESTION in its webview and
// prints JSON {question, answer} (what the webview shows once the answer is complete).
// Screenshots go to SHOTS_DIR.
// Usage: node chat.mjs URL MODEL_LABEL QUESTION SHOTS_DIR
import { drive, runCommand, step, waitForModel } from './workbench.mjs';

const [url, modelLabel, question, shots] = process.argv.slice(2);
await drive(url, shots, async (page) => {
  await waitForModel(page, modelLabel);
  await runCommand(page, 'qwenpair: Open Chat');
  // A VS Code webview is an iframe holding the extension's page in an inner iframe.
  const view = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await view.locator('#question').fill(question);
  await view.locator('#ask button[type=submit]').click();
  step('asked');
  const answer = view.locator('.answer:not(.streaming)').first();
  await answer.waitFor({ timeout: 120000 });
  await page.screenshot({ path: `${shots}/chat.png` });
  return { question: await view.locator('.question').first().textContent(), answer: await answer.textContent() };
});
