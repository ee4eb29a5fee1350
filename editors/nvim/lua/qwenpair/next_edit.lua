--- qwenpair.next_edit: next-edit suggestions (docs/next-edit.md) drawn as a diff overlay.
---
--- The server predicts the edit the user will make next from the edits they just made
--- (`qwenpair/nextEdit`, docs/lsp.md "Next edits"). The suggested change is drawn where it
--- would apply: the text it deletes struck through, the lines it makes as virtual lines below.
--- When it is away from the cursor a hint at the cursor's line says where. The next-edit key
--- (Tab) jumps to it, the same key again applies it, and then the next one is asked for, so
--- that a rename walks from use to use; Esc (normal mode) or the dismiss key drops it.
---
--- It is asked for when the server announces one (`qwenpair/nextEditReady`, sent after the
--- server's own edit pause, which follows a completion's accept too; in insert mode on
--- leaving it), after a next edit's
--- accept here (the chain), on :QwenpairNextEdit, and, with `next_edit.pause_ms` set, after
--- that pause in edits here too.
local config = require('qwenpair.config')
local lsp = require('qwenpair.lsp')
local outcome = require('qwenpair.outcome')
local text = require('qwenpair.text')

local M = {}

M.METHOD = 'qwenpair/nextEdit'
M.ns = vim.api.nvim_create_namespace('qwenpair.next_edit')

local function set_highlights()
  local del = vim.api.nvim_get_hl(0, { name = 'DiffDelete', link = false })
  vim.api.nvim_set_hl(0, 'QwenpairNextEditDelete', { fg = del.fg, bg = del.bg, strikethrough = true, default = true })
  vim.api.nvim_set_hl(0, 'QwenpairNextEditAdd', { link = 'DiffAdd', default = true })
  vim.api.nvim_set_hl(0, 'QwenpairNextEditHint', { link = 'Comment', default = true })
end
set_highlights()
vim.api.nvim_create_autocmd('ColorScheme', {
  group = vim.api.nvim_create_augroup('qwenpair.next_edit.colors', { clear = true }),
  callback = set_highlights,
})

---@class qwenpair.NextEdit
---@field id string|nil the suggestion's id (its outcome is reported with it)
---@field command table|nil the command that records its accept
---@field tick integer the buffer's changedtick it was computed for
---@field start {[1]: integer, [2]: integer} 0-based row, byte col where the change starts
---@field stop {[1]: integer, [2]: integer} where the replaced text ends
---@field new_text string what replaces it
---@field jump {[1]: integer, [2]: integer} where the jump puts the cursor

---@class qwenpair.NextEditState
---@field shown qwenpair.NextEdit|nil
---@field request {client: vim.lsp.Client, id: integer}|nil
---@field generation integer bumps on every change; stale replies and timers compare it
---@field dismissed_tick integer|nil the changedtick at which the user dismissed one
---@field deferred_tick integer|nil the changedtick of an announcement left for InsertLeave

---@type table<integer, qwenpair.NextEditState>
local states = {}

local function state(bufnr)
  states[bufnr] = states[bufnr] or { generation = 0 }
  return states[bufnr]
end

local function enabled()
  return config.options.next_edit and config.options.next_edit.enabled ~= false
end

--- A byte position from an LSP position in {bufnr}.
local function byte_pos(bufnr, position, encoding)
  local n = vim.api.nvim_buf_line_count(bufnr)
  if position.line >= n then -- the end of the last line (a range up to "line n, character 0")
    local last = vim.api.nvim_buf_get_lines(bufnr, n - 1, n, true)[1]
    return { n - 1, #last }
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, position.line, position.line + 1, true)[1]
  return { position.line, text.byte_col(line, position.character, encoding) }
end

--- The suggestion of answer {result}, in byte positions of {bufnr} as it is now.
---@return qwenpair.NextEdit|nil
local function from_answer(bufnr, result, encoding)
  local target = result.target
  if type(target) ~= 'table' or type(target.range) ~= 'table' or type(target.newText) ~= 'string' then
    return nil
  end
  local start = byte_pos(bufnr, target.range.start, encoding)
  local stop = byte_pos(bufnr, target.range['end'], encoding)
  local jump = type(result.jump) == 'table' and byte_pos(bufnr, result.jump, encoding) or start
  local command = type(result.item) == 'table' and result.item.command or nil
  local id = outcome.id(command) or (type(result.id) == 'string' and result.id or nil)
  if not command and id then
    command = { title = 'qwenpair', command = 'qwenpair.nextEdit', arguments = { { id = id, kind = 'next_edit' } } }
  end
  return {
    id = id,
    command = command,
    tick = vim.api.nvim_buf_get_changedtick(bufnr),
    start = start,
    stop = stop,
    new_text = target.newText,
    jump = jump,
  }
end

--- The buffer position {offset} bytes into {str} when {str} starts at {start}.
local function position_in(start, str, offset)
  local before = str:sub(1, offset)
  local last_nl = before:match('.*()\n')
  if not last_nl then
    return { start[1], start[2] + offset }
  end
  local _, newlines = before:gsub('\n', '')
  return { start[1] + newlines, offset - last_nl }
end

--- The lines the buffer would have where {s} applies, and the part of the replaced text that
--- really changes: the common head and tail of the old and new text are not struck through.
---@return string[] new_lines, {[1]: integer, [2]: integer} strike_start, {[1]: integer, [2]: integer} strike_stop, integer head, integer tail
local function preview(bufnr, s)
  local old_lines = vim.api.nvim_buf_get_lines(bufnr, s.start[1], s.stop[1] + 1, true)
  local before = old_lines[1]:sub(1, s.start[2])
  local after = old_lines[#old_lines]:sub(s.stop[2] + 1)
  local new_lines = text.lines(before .. s.new_text .. after)
  local old = table.concat(vim.api.nvim_buf_get_text(bufnr, s.start[1], s.start[2], s.stop[1], s.stop[2], {}), '\n')
  local head, tail = text.common_ends(old, s.new_text)
  return new_lines, position_in(s.start, old, head), position_in(s.start, old, #old - tail), head, tail
end

--- Draws {s}: the changed text struck through, the new lines below it, and a hint.
local function draw(bufnr, s)
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local new_lines, strike_start, strike_stop = preview(bufnr, s)
  if strike_start[1] < strike_stop[1] or strike_start[2] < strike_stop[2] then
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, strike_start[1], strike_start[2], {
      end_row = strike_stop[1],
      end_col = strike_stop[2],
      hl_group = 'QwenpairNextEditDelete',
    })
  end
  local virt = {}
  if s.new_text ~= '' or s.start[1] ~= s.stop[1] or s.start[2] ~= s.stop[2] then
    for _, line in ipairs(new_lines) do
      table.insert(virt, { { line, 'QwenpairNextEditAdd' } })
    end
  end
  local keys = config.options.keymaps
  local hint = keys.next_edit and (' %s: accept'):format(keys.next_edit) or ' next edit'
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, s.stop[1], 0, {
    virt_lines = #virt > 0 and virt or nil,
    virt_text = { { hint, 'QwenpairNextEditHint' } },
    virt_text_pos = 'eol',
  })
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  if vim.api.nvim_get_current_buf() == bufnr and (row < s.start[1] or row > s.stop[1]) then
    local where = keys.next_edit and (' %s: next edit, line %d'):format(keys.next_edit, s.start[1] + 1)
      or (' next edit: line %d'):format(s.start[1] + 1)
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, row, 0, {
      virt_text = { { where, 'QwenpairNextEditHint' } },
      virt_text_pos = 'eol',
    })
  end
end

--- Whether a next edit is shown in {bufnr} for its current text.
function M.visible(bufnr)
  local st = states[bufnr]
  return st ~= nil and st.shown ~= nil and st.shown.tick == vim.api.nvim_buf_get_changedtick(bufnr)
end

--- The shown next edit of {bufnr} (0: the current buffer), or nil; for statuslines and tests.
---@return qwenpair.NextEdit|nil
function M.current(bufnr)
  bufnr = bufnr == 0 and vim.api.nvim_get_current_buf() or bufnr
  return M.visible(bufnr) and states[bufnr].shown or nil
end

--- Hides the shown next edit (no outcome: the server infers "typed over" or "ignored").
function M.clear(bufnr)
  local st = state(bufnr)
  st.shown = nil
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- Asks the server for the next edit at the cursor of {bufnr} (the current buffer) and shows
--- it. {opts.notify}: say so when there is none (the command).
---@param bufnr integer
---@param opts {notify: boolean}|nil
function M.request(bufnr, opts)
  opts = opts or {}
  local client = lsp.client(bufnr)
  if not client or not enabled() or bufnr ~= vim.api.nvim_get_current_buf() then
    return
  end
  local st = state(bufnr)
  lsp.cancel_held(st)
  local generation, tick = st.generation, vim.api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local ok, id = lsp.request(client, M.METHOD, params, function(err, result)
    if st.generation ~= generation or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then
      return -- the buffer changed meanwhile: the answer is for text that is gone
    end
    st.request = nil
    local s = not err and type(result) == 'table' and result.kind ~= 'none' and from_answer(bufnr, result, client.offset_encoding)
    if not s then
      M.clear(bufnr)
      if opts.notify then
        local why = err and err.message or (type(result) == 'table' and result.reason) or ''
        vim.notify(('qwenpair: no next edit%s'):format(why ~= '' and (' (' .. why .. ')') or ''), vim.log.levels.INFO)
      end
      return
    end
    st.shown = s
    draw(bufnr, s)
  end, bufnr)
  if ok then
    st.request = { client = client, id = id }
  end
end

--- Shows next-edit item {item} of a `textDocument/inlineCompletion` answer (docs/lsp.md, "Next
--- edits": the server adds one computed ahead when its change is at the cursor's line) as a
--- next edit, if none is shown and the user did not drop one for this text.
function M.show_item(bufnr, item, encoding)
  local st = state(bufnr)
  local insert = type(item.insertText) == 'table' and item.insertText.value or item.insertText
  if not enabled() or M.visible(bufnr) or type(insert) ~= 'string' or type(item.range) ~= 'table'
    or st.dismissed_tick == vim.api.nvim_buf_get_changedtick(bufnr) then
    return
  end
  local s = from_answer(bufnr, { target = { range = item.range, newText = insert }, item = item }, encoding)
  if s then
    st.shown = s
    draw(bufnr, s)
  end
end

--- Applies the shown next edit of {bufnr}, reports the accept and asks for the next one.
local function apply(bufnr, s)
  local st = state(bufnr)
  local client = lsp.client(bufnr)
  local _, from, to, head, tail = preview(bufnr, s)
  M.clear(bufnr)
  -- Only the part that changes is replaced (marks, folds and the server's view of the
  -- change stay on the text kept).
  local middle = s.new_text:sub(head + 1, #s.new_text - tail)
  vim.api.nvim_buf_set_text(bufnr, from[1], from[2], to[1], to[2], text.lines(middle))
  -- The cursor goes where the change starts, as after `cw`.
  local pos = from
  local line = vim.api.nvim_buf_get_lines(bufnr, pos[1], pos[1] + 1, true)[1]
  vim.api.nvim_win_set_cursor(0, { pos[1] + 1, math.min(pos[2], math.max(0, #line - 1)) })
  st.dismissed_tick = nil
  if client and s.command then
    outcome.accepted(client, bufnr, s.command)
  end
  M.request(bufnr)
end

--- The next-edit key: jumps to the shown next edit, or applies it when the cursor is already
--- on it. Returns whether there was one (the work is scheduled: this runs in <expr> maps).
---@return boolean
function M.tab(bufnr)
  if not M.visible(bufnr) then
    return false
  end
  local s = states[bufnr].shown
  vim.schedule(function()
    if not M.visible(bufnr) or states[bufnr].shown ~= s then
      return
    end
    local row = vim.api.nvim_win_get_cursor(0)[1] - 1
    if row >= s.start[1] and row <= s.stop[1] then
      apply(bufnr, s)
    else
      vim.cmd("normal! m'") -- the jump is in the jumplist: <C-o> goes back
      vim.api.nvim_win_set_cursor(0, { s.jump[1] + 1, s.jump[2] })
      draw(bufnr, s)
    end
  end)
  return true
end

--- The user dropped the shown next edit: hide it, report it, and do not show it again for
--- this text. Returns whether one was shown.
---@return boolean
function M.dismiss(bufnr)
  if not M.visible(bufnr) then
    return false
  end
  local st = states[bufnr]
  local client = lsp.client(bufnr)
  if client then
    outcome.dismissed(client, bufnr, st.shown.id)
  end
  st.dismissed_tick = st.shown.tick
  M.clear(bufnr)
  return true
end

--- After a next edit's accept (inline, by Neovim 0.12): ask for the one after it at once.
function M.after_accept(bufnr)
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    vim.schedule(function()
      M.request(bufnr)
    end)
  end
end

--- `qwenpair/nextEditReady`: the server has a next edit for this version of the document. Ask
--- for it if the document is the current buffer, unchanged, and none was dismissed for it.
function M.on_ready(err, params)
  if err or type(params) ~= 'table' or type(params.textDocument) ~= 'table' or not enabled() then
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  if vim.uri_from_bufnr(bufnr) ~= params.textDocument.uri then
    return
  end
  local version = vim.lsp.util.buf_versions[bufnr]
  if params.textDocument.version ~= nil and version ~= nil and params.textDocument.version ~= version then
    return
  end
  local st = state(bufnr)
  if st.dismissed_tick == vim.api.nvim_buf_get_changedtick(bufnr) or M.visible(bufnr) then
    return
  end
  -- While typing, completions go first: a request now would take the model from the block a
  -- completion may still be writing (the scheduler's newest job wins; a block stopped growing
  -- in the e2e tests). Asked for on leaving insert mode if the text is still the same.
  if vim.api.nvim_get_mode().mode:sub(1, 1) == 'i' then
    st.deferred_tick = vim.api.nvim_buf_get_changedtick(bufnr)
    return
  end
  M.request(bufnr)
end

--- Starts next edits in {bufnr}: a change hides the shown one (and, with `pause_ms`, asks
--- again after that pause).
function M.attach(bufnr)
  local group = vim.api.nvim_create_augroup('qwenpair.next_edit.' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'TextChanged', 'TextChangedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      local st = state(bufnr)
      st.generation = st.generation + 1
      lsp.cancel_held(st)
      if st.shown and not M.visible(bufnr) then
        M.clear(bufnr)
      end
      local pause = (config.options.next_edit or {}).pause_ms
      if enabled() and type(pause) == 'number' and pause > 0 then
        local generation = st.generation
        vim.defer_fn(function()
          if st.generation == generation and vim.api.nvim_buf_is_valid(bufnr) then
            M.request(bufnr)
          end
        end, pause)
      end
    end,
  })
  vim.api.nvim_create_autocmd('InsertLeave', {
    group = group,
    buffer = bufnr,
    callback = function()
      local st = state(bufnr)
      if st.deferred_tick == vim.api.nvim_buf_get_changedtick(bufnr) and not M.visible(bufnr) then
        M.request(bufnr)
      end
      st.deferred_tick = nil
    end,
  })
  vim.api.nvim_create_autocmd('BufWipeout', {
    group = group,
    buffer = bufnr,
    callback = function()
      states[bufnr] = nil
    end,
  })
end

return M
