--- qwenpair.inline: one set of ghost-text actions (accept all/line/word, next, prev, dismiss,
--- trigger) over two engines: Neovim 0.12's native vim.lsp.inline_completion, or this
--- plugin's extmark ghost text (qwenpair.ghost) on older versions. Also sets the keymaps,
--- shared with next edits (qwenpair.next_edit), and reports accepts and dismissals
--- (qwenpair.outcome).
local config = require('qwenpair.config')
local ghost = require('qwenpair.ghost')
local next_edit = require('qwenpair.next_edit')
local outcome = require('qwenpair.outcome')
local text = require('qwenpair.text')

local M = {}

--- 'native', 'extmark' or 'off', from the `inline` option and what this Neovim has.
function M.engine()
  local want = config.options.inline
  local native = vim.lsp.inline_completion ~= nil
  if want == 'auto' then
    return native and 'native' or 'extmark'
  elseif want == 'native' and not native then
    return 'extmark'
  end
  return want
end

--- Native accept of a line or a word: insert that part of the candidate at the cursor.
local function native_partial(kind)
  return vim.lsp.inline_completion.get({
    on_accept = function(item)
      local insert = type(item.insert_text) == 'string' and item.insert_text or item.insert_text.value
      local bufnr = vim.api.nvim_get_current_buf()
      local pos = vim.api.nvim_win_get_cursor(0)
      local replace = 0
      if item.range then
        local s, e = item.range.start, item.range.end_
        local typed = vim.api.nvim_buf_get_text(bufnr, s.row, s.col, pos[1] - 1, pos[2], {})
        insert = text.after_typed(insert, table.concat(typed, '\n')) or insert
        if e.row == pos[1] - 1 and e.col > pos[2] then
          replace = e.col - pos[2] -- closers after the cursor that the item writes itself
        end
      end
      local part = text.partial(insert, kind)
      -- Only the whole rest replaces the closers; a part leaves them for the rest to replace.
      ghost.insert_at_cursor(bufnr, part, part == insert and replace or 0)
      local client = vim.lsp.get_client_by_id(item.client_id)
      if client and part == insert and item.command then
        outcome.accepted(client, bufnr, item.command)
      elseif client then
        outcome.partial(client, bufnr, outcome.id(item), part)
      end
    end,
  })
end

--- Accepts all, a line or a word of the shown suggestion.
---@param kind 'all'|'line'|'word'
---@return boolean accepted (false: nothing was shown)
function M.accept(kind)
  local engine = M.engine()
  if engine == 'native' then
    if kind == 'all' then
      return vim.lsp.inline_completion.get()
    end
    return native_partial(kind)
  elseif engine == 'extmark' then
    return ghost.accept(vim.api.nvim_get_current_buf(), kind)
  end
  return false
end

--- Shows the next ({delta} = 1) or previous (-1) candidate.
function M.select(delta)
  local engine = M.engine()
  if engine == 'native' then
    vim.lsp.inline_completion.select({ count = delta })
  elseif engine == 'extmark' then
    ghost.select(vim.api.nvim_get_current_buf(), delta)
  end
end

--- Hides the suggestion. Returns whether one was shown.
function M.dismiss()
  local engine = M.engine()
  if engine == 'native' then
    -- The 0.12 API has no dismiss; accepting with a handler that inserts nothing aborts.
    return vim.lsp.inline_completion.get({
      on_accept = function(item)
        local client = vim.lsp.get_client_by_id(item.client_id)
        if client then
          outcome.dismissed(client, vim.api.nvim_get_current_buf(), outcome.id(item))
        end
      end,
    })
  elseif engine == 'extmark' then
    local bufnr = vim.api.nvim_get_current_buf()
    local id, client = ghost.shown_id(bufnr)
    if id and client then
      outcome.dismissed(client, bufnr, id)
    end
    return ghost.clear(bufnr)
  end
  return false
end

--- Asks for a suggestion now.
function M.trigger()
  local bufnr = vim.api.nvim_get_current_buf()
  local engine = M.engine()
  if engine == 'native' then
    -- 0.12 has no public "request now": fire the cursor event its per-buffer group listens to.
    pcall(vim.api.nvim_exec_autocmds, 'CursorMovedI', { group = 'nvim.lsp.inline_completion:' .. bufnr })
  elseif engine == 'extmark' then
    ghost.trigger(bufnr)
  end
end

--- Whether a completion is shown in {bufnr}.
function M.visible(bufnr)
  local engine = M.engine()
  if engine == 'native' then
    local ns = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')
    return #vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { limit = 1 }) > 0
  elseif engine == 'extmark' then
    return ghost.visible(bufnr)
  end
  return false
end

--- `qwenpair/inlineCompletionExtended`: the server has the whole block of a suggestion it
--- answered with its first line (docs/lsp.md). If a suggestion is still shown in that
--- buffer, ask again: the server answers from its cache, now with the block.
function M.on_extended(err, params)
  if err or type(params) ~= 'table' or type(params.textDocument) ~= 'table' then
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  if vim.uri_from_bufnr(bufnr) ~= params.textDocument.uri or vim.api.nvim_get_mode().mode:sub(1, 1) ~= 'i' then
    return
  end
  if M.engine() == 'native' then
    if M.visible(bufnr) then
      M.trigger()
    end
  else
    ghost.refresh(bufnr)
  end
end

--- Buffer-local keymaps; an accept/dismiss key with nothing shown types itself. Insert mode:
--- a shown completion first, else a shown next edit. Normal mode: next edits.
local function set_keymaps(bufnr)
  local keys = config.options.keymaps
  local function passthrough(mode, lhs, action)
    if lhs then
      vim.keymap.set(mode, lhs, function()
        return action() and '' or lhs
      end, { buffer = bufnr, expr = true, desc = 'qwenpair' })
    end
  end
  local function plain(lhs, action)
    if lhs then
      vim.keymap.set('i', lhs, action, { buffer = bufnr, desc = 'qwenpair' })
    end
  end
  local function nes_tab()
    return next_edit.tab(bufnr)
  end
  if keys.next_edit and keys.next_edit == keys.accept then
    passthrough('i', keys.accept, function() return M.accept('all') or nes_tab() end)
  else
    passthrough('i', keys.accept, function() return M.accept('all') end)
    passthrough('i', keys.next_edit, nes_tab)
  end
  passthrough('n', keys.next_edit, nes_tab)
  passthrough('n', keys.next_edit_dismiss, function() return next_edit.dismiss(bufnr) end)
  passthrough('i', keys.accept_line, function() return M.accept('line') end)
  passthrough('i', keys.accept_word, function() return M.accept('word') end)
  passthrough('i', keys.dismiss, function()
    local fim = M.dismiss()
    return next_edit.dismiss(bufnr) or fim
  end)
  plain(keys.next, function() M.select(1) end)
  plain(keys.prev, function() M.select(-1) end)
  plain(keys.trigger, M.trigger)
end

--- Turns ghost text and next edits on in {bufnr} once the qwenpair server has attached to it.
function M.attach(bufnr)
  local engine = M.engine()
  if engine == 'native' then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  elseif engine == 'extmark' then
    ghost.attach(bufnr)
  end
  next_edit.attach(bufnr)
  set_keymaps(bufnr)
end

return M
