// Inline completion in code-server: opens FILE, waits until the qwenpair status-bar item shows
// MODEL_LABEL (server up, model loaded), types TYPED at the end of the file, waits for an
// inline suggestion (ghost text), accepts it with Tab and prints JSON {status, ghost, lines}
// (the editor's lines after Tab). Screenshots go to SHOTS_DIR.
// Usage: node inline.mjs URL FILE MODEL_LABEL TYPED SHOTS_DIR
import { drive, editorLines, openFile, waitForGhost, waitForModel } from './workbench.mjs';

const [url, file, modelLabel, typed, shots] = process.argv.slice(2);
await drive(url, shots, async (page) => {
  await openFile(page, file);
  const status = await waitForModel(page, modelLabel);
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(typed, { delay: 30 });
  const ghostText = await waitForGhost(page, undefined, 6);
  const ghost = await ghostText.textContent();
  await page.screenshot({ path: `${shots}/ghost.png` });
  await page.keyboard.press('Tab');
  await ghostText.waitFor({ state: 'detached', timeout: 10000 });
  await page.screenshot({ path: `${shots}/accepted.png` });
  return { status: await status.textContent(), ghost, lines: await editorLines(page) };
});
