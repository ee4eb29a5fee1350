--- qwenpair.text: pure text helpers for ghost text (no editor state), so partial acceptance
--- and the typed-prefix check can be tested on their own.
local M = {}

--- The part of a suggestion {text} that "accept word" or "accept line" takes.
--- A word is leading blanks plus one run of word characters, or else of punctuation;
--- a line is the rest of the current line, or the next line when the current one is done.
---@param text string
---@param kind 'all'|'line'|'word'
---@return string
function M.partial(text, kind)
  if kind == 'word' then
    return text:match('^%s*[%w_]+') or text:match('^%s*[^%w_%s]+') or text
  elseif kind == 'line' then
    return text:match('^[^\n]+') or text:match('^\n[^\n]*') or text
  end
  return text
end

--- What is left to show of a suggestion that starts at the cursor minus {typed}: the server
--- may return text that replaces a range starting before the cursor.
--- Returns nil when the suggestion does not start with what is already typed.
---@param insert_text string
---@param typed string
---@return string|nil
function M.after_typed(insert_text, typed)
  if insert_text:sub(1, #typed) ~= typed then
    return nil
  end
  return insert_text:sub(#typed + 1)
end

--- Splits {text} into its lines (a trailing newline gives a last empty line).
---@param text string
---@return string[]
function M.lines(text)
  return vim.split(text, '\n', { plain = true })
end

return M
