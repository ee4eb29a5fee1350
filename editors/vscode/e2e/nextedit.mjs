// A next edit in code-server: opens FILE, waits until the status-bar item shows MODEL_LABEL,
// goes to LINE:COLUMN, selects the word there (Ctrl+D) and types NEW over it, then waits for
// the extension's next-edit decoration (after the edit pause): the hint at the cursor naming
// TARGET_LINE and the struck-through text there. Esc dismisses it; Alt+N (qwenpair: Suggest
// Next Edit) asks again; Tab goes to that line (the status bar's "Ln TARGET_LINE"), a second Tab
// applies the edit. Prints JSON {status, hint, after, struck, shown, dismissed, lines} (shown:
// the lines while the edit was drawn; dismissed: the hints left after Esc; lines: after Tab Tab).
// Screenshots go to SHOTS_DIR.
// Usage: node nextedit.mjs URL FILE MODEL_LABEL LINE:COLUMN NEW TARGET_LINE SHOTS_DIR
import { drive, editorLines, openFile, step, waitForChange, waitForModel } from './workbench.mjs';

const [url, file, modelLabel, at, typed, target, shots] = process.argv.slice(2);

/** The decorations of the active editor: text drawn after spans (::after) and struck text. */
function drawn(page) {
  return page.evaluate(() => {
    const editor = document.querySelector('.editor-group-container.active .monaco-editor');
    const after = [];
    const struck = [];
    for (const span of editor.querySelectorAll('.view-lines span')) {
      const content = getComputedStyle(span, '::after').content;
      if (content && content !== 'none' && content !== 'normal') {
        after.push(content.slice(1, -1)); // a CSS string: "…"
      }
      if (getComputedStyle(span).textDecorationLine.includes('line-through') && span.children.length === 0) {
        struck.push(span.textContent);
      }
    }
    return { after, struck };
  });
}

await drive(url, shots, async (page) => {
  await openFile(page, file);
  const status = await waitForModel(page, modelLabel);
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+G');
  await page.keyboard.type(at);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+D'); // the word at the cursor
  await page.keyboard.type(typed, { delay: 30 });
  step('renamed');
  // The edit pause asks for the next edit; its hint names the line to go to.
  const want = `next edit at line ${target}`;
  const hinted = (timeout) =>
    page.waitForFunction(
      (text) => {
        const editor = document.querySelector('.editor-group-container.active .monaco-editor');
        return [...editor.querySelectorAll('.view-lines span')].some((s) =>
          getComputedStyle(s, '::after').content.includes(text),
        );
      },
      want,
      { timeout },
    );
  await hinted(90000);
  const shownDecorations = await drawn(page);
  const shown = await editorLines(page);
  await page.screenshot({ path: `${shots}/next-edit.png` });
  step('next edit drawn');
  await page.keyboard.press('Escape');
  await page.waitForFunction(
    (text) =>
      ![...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines span')].some((s) =>
        getComputedStyle(s, '::after').content.includes(text),
      ),
    want,
    { timeout: 10000 },
  );
  const dismissed = (await drawn(page)).after;
  step('dismissed');
  await page.keyboard.press('Alt+N');
  await hinted(60000);
  step('asked again');
  await page.keyboard.press('Tab');
  await page.locator('.statusbar-item', { hasText: new RegExp(`Ln ${target}, Col`) }).first().waitFor({ timeout: 10000 });
  step('jumped');
  await page.keyboard.press('Tab');
  await waitForChange(page, shown, 10000);
  await page.screenshot({ path: `${shots}/accepted.png` });
  return {
    status: await status.textContent(),
    hint: shownDecorations.after.find((t) => t.includes(want)) ?? null,
    after: shownDecorations.after,
    struck: shownDecorations.struck,
    shown,
    dismissed,
    lines: await editorLines(page),
  };
});
