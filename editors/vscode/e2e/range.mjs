// An inline item whose range replaces the `)` after the cursor, in code-server: opens FILE,
// waits until the status-bar item shows MODEL_LABEL, types BEFORE on a new last line, moves
// the cursor LEFT characters back and types AFTER there (so the last keystroke, which asks
// for a suggestion, leaves the cursor inside the closers an auto-pair would have typed),
// waits for ghost text containing EXPECT (Alt+\ asks again if none comes), reads the lines
// as drawn (ghost text included), accepts with Tab and prints JSON {status, ghost, shown, lines}.
// Screenshots go to SHOTS_DIR.
// Usage: node range.mjs URL FILE MODEL_LABEL BEFORE LEFT AFTER EXPECT SHOTS_DIR
import { drive, editorLines, openFile, waitForGhost, waitForModel } from './workbench.mjs';

const [url, file, modelLabel, before, left, after, expect, shots] = process.argv.slice(2);
await drive(url, shots, async (page) => {
  await openFile(page, file);
  const status = await waitForModel(page, modelLabel);
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type(before, { delay: 30 });
  for (let i = 0; i < Number(left); i++) {
    await page.keyboard.press('ArrowLeft');
  }
  await page.keyboard.type(after, { delay: 30 });
  const ghostText = await waitForGhost(page, expect);
  const ghost = await ghostText.textContent();
  const shown = await editorLines(page);
  await page.screenshot({ path: `${shots}/ghost.png` });
  await page.keyboard.press('Tab');
  await ghostText.waitFor({ state: 'detached', timeout: 10000 });
  await page.screenshot({ path: `${shots}/accepted.png` });
  return { status: await status.textContent(), ghost, shown, lines: await editorLines(page) };
});
