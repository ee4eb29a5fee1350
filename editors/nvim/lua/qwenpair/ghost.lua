--- qwenpair.ghost: ghost text drawn with extmarks, for Neovim 0.10/0.11 (no native
--- vim.lsp.inline_completion) or when the user picks `inline = 'extmark'`.
---
--- After a pause in typing it sends textDocument/inlineCompletion (one request in flight per
--- buffer; a newer keystroke cancels the older request), shows the first candidate as inline
--- virtual text plus virtual lines, and keeps showing the rest while the user types along
--- with it. It is not a completion menu: candidates are cycled with next/prev.
---
--- An item's range may also cover characters after the cursor (closers the editor
--- auto-inserted, that the suggestion writes itself): accepting replaces them, and the ghost
--- is drawn so that they are not shown twice (text.ghost_line).
local lsp = require('qwenpair.lsp')
local outcome = require('qwenpair.outcome')
local text = require('qwenpair.text')
local config = require('qwenpair.config')

local M = {}

M.ns = vim.api.nvim_create_namespace('qwenpair.ghost')
vim.api.nvim_set_hl(0, 'QwenpairGhost', { link = 'Comment', default = true })

local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

---@class qwenpair.GhostState
---@field generation integer bumps on every keystroke; stale timers and replies compare it
---@field request {client: vim.lsp.Client, id: integer}|nil
---@field candidates qwenpair.Candidate[]|nil
---@field index integer
---@field anchor {[1]: integer, [2]: integer}|nil 0-based row, byte col where the ghost starts
---@field text string|nil the text still shown at the anchor
---@field replaced string the characters right after the anchor that accepting replaces
---@field client vim.lsp.Client|nil the server that answered the shown candidate

---@class qwenpair.Candidate
---@field text string what it inserts at the cursor
---@field replaced string what it replaces right after the cursor ('' for a plain insertion)
---@field command table|nil the item's command: its suggestion id, run on accept

---@type table<integer, qwenpair.GhostState>
local states = {}

local function state(bufnr)
  states[bufnr] = states[bufnr] or { generation = 0, index = 1, replaced = '' }
  return states[bufnr]
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

--- Draws {st.text} at {st.anchor}; {hint} is appended to the last line (e.g. " (2/3)").
local function draw(bufnr, st, hint)
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  if not st.text or st.text == '' or not st.anchor then
    return
  end
  local virt = {}
  for _, line in ipairs(text.lines(st.text)) do
    table.insert(virt, { { line, 'QwenpairGhost' } })
  end
  local row, col = st.anchor[1], st.anchor[2]
  local rest = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]:sub(col + 1)
  local first, pos = text.ghost_line(virt[1][1][1], st.replaced or '', rest)
  virt[1][1][1] = first
  if hint then
    table.insert(virt[#virt], { hint, 'QwenpairGhost' })
  end
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, row, col, {
    virt_text = virt[1],
    virt_text_pos = pos,
    virt_lines = { unpack(virt, 2) },
    hl_mode = 'combine',
  })
end

--- What {item} would do at the cursor, or nil when it does not fit there: its range must
--- start on the cursor's line, at or before it (the part before the cursor already typed),
--- and end on that line.
---@return qwenpair.Candidate|nil
local function candidate(bufnr, item, encoding)
  local insert = type(item.insertText) == 'table' and item.insertText.value or item.insertText
  if type(insert) ~= 'string' then
    return nil
  end
  if not item.range then
    return { text = insert, replaced = '', command = item.command }
  end
  local row, col = cursor()
  local start, stop = item.range.start, item.range['end']
  if start.line ~= row or stop.line ~= row then
    return nil
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
  local first = text.byte_col(line, start.character, encoding)
  local last = math.max(col, text.byte_col(line, stop.character, encoding))
  local rest = text.after_typed(insert, line:sub(first + 1, col))
  return rest and { text = rest, replaced = line:sub(col + 1, last), command = item.command } or nil
end

--- Asks the server for candidates at the cursor and shows the first.
---@param bufnr integer
---@param kind integer|nil LSP InlineCompletionTriggerKind (default: automatic)
function M.request(bufnr, kind)
  local client = lsp.client(bufnr)
  -- Only at the cursor of this buffer in insert mode: a timer that fires after the user left
  -- (another buffer, normal mode) would ask about a place nobody types at.
  if not client or bufnr ~= vim.api.nvim_get_current_buf() or vim.api.nvim_get_mode().mode:sub(1, 1) ~= 'i' then
    return
  end
  local st = state(bufnr)
  lsp.cancel_held(st)
  local generation = st.generation
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = kind or TRIGGER_AUTOMATIC }
  local ok, id = lsp.request(client, 'textDocument/inlineCompletion', params, function(err, result)
    if st.generation ~= generation or err or not result then
      return
    end
    st.request = nil
    local candidates, next_edit_item = {}, nil
    for _, item in ipairs(result.items or result) do
      if outcome.is_next_edit(item) then
        next_edit_item = next_edit_item or item -- drawn as a next edit, not as ghost text
      else
        local c = candidate(bufnr, item, client.offset_encoding)
        if c and c.text ~= '' then
          table.insert(candidates, c)
        end
      end
    end
    if vim.api.nvim_get_mode().mode:sub(1, 1) ~= 'i' then
      return
    end
    if #candidates == 0 then
      if next_edit_item then
        require('qwenpair.next_edit').show_item(bufnr, next_edit_item, client.offset_encoding)
      end
      return
    end
    st.candidates, st.index, st.client = candidates, 1, client
    st.anchor = { cursor() }
    st.text, st.replaced = candidates[1].text, candidates[1].replaced
    draw(bufnr, st)
  end, bufnr)
  if ok then
    st.request = { client = client, id = id }
  end
end

--- A keystroke: keep the ghost if the user typed along with it, else ask again after a pause.
local function on_change(bufnr)
  local st = state(bufnr)
  st.generation = st.generation + 1
  local row, col = cursor()
  if st.text and st.anchor and st.anchor[1] == row and col >= st.anchor[2] then
    local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
    local rest = text.after_typed(st.text, line:sub(st.anchor[2] + 1, col))
    if rest and rest ~= '' then
      st.text, st.anchor = rest, { row, col }
      if line:sub(col + 1, col + #st.replaced) ~= st.replaced then
        st.replaced = '' -- the closers were typed over or deleted: nothing left to replace
      end
      draw(bufnr, st)
      return
    end
  end
  M.clear(bufnr)
  local generation = st.generation
  vim.defer_fn(function()
    if st.generation == generation and vim.api.nvim_buf_is_valid(bufnr) then
      M.request(bufnr, TRIGGER_AUTOMATIC)
    end
  end, config.options.debounce_ms)
end

--- Starts ghost text in {bufnr}.
function M.attach(bufnr)
  local group = vim.api.nvim_create_augroup('qwenpair.ghost.' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_change(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      local st = state(bufnr)
      st.generation = st.generation + 1 -- a pending timer or reply is for a place left behind
      M.clear(bufnr)
    end,
  })
end

--- Inserts {insert} at the cursor, replacing the {replace} bytes after it (default 0), and
--- puts the cursor after it.
function M.insert_at_cursor(bufnr, insert, replace)
  local row, col = cursor()
  local lines = text.lines(insert)
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col + (replace or 0), lines)
  local last_row = row + #lines - 1
  local last_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { last_row + 1, last_col })
end

--- Whether a ghost is shown in {bufnr}.
function M.visible(bufnr)
  local st = states[bufnr]
  return st ~= nil and st.text ~= nil and st.text ~= ''
end

--- Accepts all, a line or a word of the shown ghost; the rest stays shown.
--- The change is scheduled so that this can run inside an <expr> mapping.
---@return boolean accepted
function M.accept(bufnr, kind)
  if not M.visible(bufnr) then
    return false
  end
  local st = states[bufnr]
  local part = text.partial(st.text, kind)
  local c = st.candidates and st.candidates[st.index]
  local client = st.client
  vim.schedule(function()
    local rest = st.text:sub(#part + 1)
    -- The whole suggestion replaces the closers it covers; a part of it leaves them after
    -- the cursor, still to be replaced by the rest.
    local replace = 0
    if rest == '' and st.replaced ~= '' then
      local row, col = cursor()
      local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
      if line:sub(col + 1, col + #st.replaced) == st.replaced then
        replace = #st.replaced
      end
      st.replaced = ''
    end
    M.insert_at_cursor(bufnr, part, replace)
    -- Reported after the edit (the server reads the accept in the change that comes first).
    if c and client then
      if rest == '' and c.command then
        outcome.accepted(client, bufnr, c.command)
      else
        outcome.partial(client, bufnr, outcome.id(c), part)
      end
    end
    -- The inserted text is what the ghost showed, so the change handler keeps the rest.
    st.anchor, st.text = { cursor() }, rest
    draw(bufnr, st)
  end)
  return true
end

--- Shows the candidate {delta} steps away, with its place among them.
function M.select(bufnr, delta)
  local st = states[bufnr]
  if not st or not st.candidates or not M.visible(bufnr) then
    return
  end
  local n = #st.candidates
  st.index = (st.index - 1 + delta) % n + 1
  local c = st.candidates[st.index]
  st.anchor, st.text, st.replaced = { cursor() }, c.text, c.replaced
  draw(bufnr, st, (' (%d/%d)'):format(st.index, n))
end

--- The id of the shown candidate's suggestion, or nil.
---@return string|nil id, vim.lsp.Client|nil client
function M.shown_id(bufnr)
  local st = states[bufnr]
  local c = M.visible(bufnr) and st.candidates and st.candidates[st.index] or nil
  return c and outcome.id(c) or nil, st and st.client
end

--- Hides the ghost and cancels a pending request.
---@return boolean was_visible
function M.clear(bufnr)
  local st = state(bufnr)
  local was = M.visible(bufnr)
  lsp.cancel_held(st)
  st.candidates, st.text, st.anchor, st.replaced = nil, nil, nil, ''
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  return was
end

--- Asks now, without waiting for a pause.
function M.trigger(bufnr)
  M.request(bufnr, TRIGGER_INVOKED)
end

--- The server finished the block whose first line is shown: ask again, and the answer (from
--- the server's cache, typed-ahead included) shows the whole block.
function M.refresh(bufnr)
  if M.visible(bufnr) then
    M.request(bufnr, TRIGGER_INVOKED)
  end
end

return M
