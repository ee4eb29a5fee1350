// Editing in code-server: opens FILE, waits for the model (status-bar item shows MODEL_LABEL),
// selects line LINE (Ctrl+L), then VIA "command" runs "qwenpair: Edit Selection with
// Instruction", or VIA "action" picks the server's "qwenpair: Edit selection…" code action
// (Ctrl+.); types INSTRUCTION, clicks Accept under the diff, and prints JSON {before, lines}
// (the editor's lines before and after). Screenshots go to SHOTS_DIR.
// Usage: node edit.mjs URL FILE MODEL_LABEL LINE INSTRUCTION VIA SHOTS_DIR
import { drive, editorLines, openFile, runCommand, step, waitForChange, waitForModel } from './workbench.mjs';

const [url, file, modelLabel, line, instruction, via, shots] = process.argv.slice(2);
await drive(url, shots, async (page) => {
  await openFile(page, file);
  await waitForModel(page, modelLabel);
  const before = await editorLines(page);
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+G');
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+L'); // select the whole line
  if (via === 'action') {
    await page.keyboard.press('Control+.');
    // The server lists "Edit selection…" first (docs/lsp.md): it is the focused row.
    await page.locator('.action-widget').filter({ hasText: 'qwenpair: Edit selection' }).waitFor({ timeout: 60000 });
    await page.keyboard.press('Enter');
  } else {
    await runCommand(page, 'qwenpair: Edit Selection with Instruction');
  }
  await page.waitForSelector('.quick-input-widget input[placeholder*="type hints"]', { timeout: 30000 });
  await page.keyboard.type(instruction);
  await page.keyboard.press('Enter');
  const accept = page.locator('.notifications-toasts .monaco-button', { hasText: 'Accept' }).first();
  await accept.waitFor({ timeout: 120000 });
  await page.screenshot({ path: `${shots}/diff.png` });
  step('diff shown');
  await accept.click();
  // The diff editor closes and the file's editor, now changed, is active again.
  await page.waitForSelector('.editor-group-container.active .monaco-diff-editor', { state: 'detached', timeout: 30000 });
  await waitForChange(page, before, 30000);
  await page.screenshot({ path: `${shots}/edited.png` });
  return { before, lines: await editorLines(page) };
});
