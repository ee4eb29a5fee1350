// A partial accept and a dismissal in code-server: opens FILE, waits until the status-bar item
// shows MODEL_LABEL, types TYPED on a new last line, waits for ghost text containing EXPECT
// (Alt+\ asks again if none comes), accepts its next word with Ctrl+Right (the extension's
// key: VS Code's Accept Next Word, then the partial accept reported), waits for the
// ghost text to change, then hides the rest with Esc (reported as dismissed). Prints JSON
// {ghost, rest, lines} (rest: the ghost text after Ctrl+Right; lines: after Esc). Screenshots go to SHOTS_DIR.
// Usage: node partial.mjs URL FILE MODEL_LABEL TYPED EXPECT SHOTS_DIR
import { drive, editorLines, openFile, step, waitForGhost, waitForModel } from './workbench.mjs';

const [url, file, modelLabel, typed, expect, shots] = process.argv.slice(2);

/** The ghost text of the active editor's line, all its parts (Monaco splits it by token). */
const ghostOf = () =>
  [...document.querySelectorAll('.editor-group-container.active .monaco-editor .ghost-text-decoration')]
    .map((g) => g.textContent)
    .join('');
await drive(url, shots, async (page) => {
  await openFile(page, file);
  await waitForModel(page, modelLabel);
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type(typed, { delay: 30 });
  await waitForGhost(page, expect);
  const ghost = await page.evaluate(ghostOf);
  await page.screenshot({ path: `${shots}/ghost.png` });
  await page.keyboard.press('Control+ArrowRight');
  // The lines as drawn include the ghost text: the accepted word leaves the ghost text.
  await page.waitForFunction(`(${ghostOf})() !== '' && (${ghostOf})() !== ${JSON.stringify(ghost)}`, null, {
    timeout: 10000,
  });
  step('word accepted');
  const rest = await page.evaluate(ghostOf);
  await page.screenshot({ path: `${shots}/word.png` });
  await page.keyboard.press('Escape');
  await page.locator('.monaco-editor .ghost-text-decoration').first().waitFor({ state: 'detached', timeout: 10000 });
  return { ghost, rest, lines: await editorLines(page) };
});
