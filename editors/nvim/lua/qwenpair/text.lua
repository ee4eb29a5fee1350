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

--- How to draw a suggestion's first line {first} at the cursor when its range also covers
--- {replaced}, the characters right after the cursor that accepting replaces (closers the
--- editor auto-inserted), and {rest} is all that follows the cursor on its line. Returns the
--- text to draw and the extmark's virt_text_pos, so that the line reads as it will after
--- accepting, with no closer shown twice:
--- - the first line ends with {replaced}: draw it without them, inline, before the buffer's own;
--- - {replaced} is all the rest of the line: draw the first line over it ('overlay', padded so
---   that it covers every replaced character);
--- - else inline as it is (accepting still replaces the range).
---@param first string
---@param replaced string
---@param rest string
---@return string text, string pos
function M.ghost_line(first, replaced, rest)
  if replaced == '' then
    return first, 'inline'
  end
  if #first >= #replaced and first:sub(-#replaced) == replaced then
    return first:sub(1, #first - #replaced), 'inline'
  end
  if rest == replaced then
    return first .. string.rep(' ', math.max(0, #replaced - #first)), 'overlay'
  end
  return first, 'inline'
end

--- How many bytes {a} and {b} share at their start (head) and, after that, at their end
--- (tail): a change from {a} to {b} is in the bytes between.
---@param a string
---@param b string
---@return integer head, integer tail
function M.common_ends(a, b)
  local head = 0
  local n = math.min(#a, #b)
  while head < n and a:byte(head + 1) == b:byte(head + 1) do
    head = head + 1
  end
  local tail = 0
  while tail < n - head and a:byte(#a - tail) == b:byte(#b - tail) do
    tail = tail + 1
  end
  return head, tail
end

--- Byte column of LSP character offset {character} in {line}, for the client's position
--- {encoding} ('utf-8', 'utf-16' or 'utf-32'); clamped to the line's end.
---@param line string
---@param character integer
---@param encoding string
---@return integer
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if vim.fn.has('nvim-0.11') == 1 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  return ok and math.min(col, #line) or #line
end

--- Splits {text} into its lines (a trailing newline gives a last empty line).
---@param text string
---@return string[]
function M.lines(text)
  return vim.split(text, '\n', { plain = true })
end

return M
