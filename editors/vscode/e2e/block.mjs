// A multi-line suggestion that grows, in code-server: opens FILE, waits until the status-bar
// item shows MODEL_LABEL, types TYPED at the end of the file, waits for ghost text containing
// EXPECT (a later line of the block: the server answers the first line alone, and only asking
// again on its qwenpair/inlineCompletionExtended notification shows the rest), accepts with
// Tab and prints JSON {status, ghost (the editor's text as drawn), lines}. Screenshots go to SHOTS_DIR.
// Usage: node block.mjs URL FILE MODEL_LABEL TYPED EXPECT SHOTS_DIR
import { drive, editorLines, openFile, waitForModel } from './workbench.mjs';

const [url, file, modelLabel, typed, expect, shots] = process.argv.slice(2);
await drive(url, shots, async (page) => {
  await openFile(page, file);
  const status = await waitForModel(page, modelLabel);
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(typed, { delay: 30 });
  // Ghost lines after the first are drawn in a view zone of their own: wait for EXPECT
  // anywhere in the editor as drawn (Monaco draws spaces as no-break spaces).
  const drawn = () =>
    page.evaluate(() =>
      document.querySelector('.editor-group-container.active .monaco-editor').textContent.replace(/\u00a0/g, ' '),
    );
  await page.waitForFunction(
    (text) =>
      document
        .querySelector('.editor-group-container.active .monaco-editor')
        .textContent.replace(/\u00a0/g, ' ')
        .includes(text),
    expect,
    { timeout: 60000 },
  );
  const ghost = await drawn();
  await page.screenshot({ path: `${shots}/block.png` });
  await page.keyboard.press('Tab');
  await page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text').first()
    .waitFor({ state: 'detached', timeout: 10000 }).catch(() => {});
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${shots}/accepted.png` });
  return { status: await status.textContent(), ghost, lines: await editorLines(page) };
});
