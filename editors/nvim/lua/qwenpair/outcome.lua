--- qwenpair.outcome: tells the server what became of a suggestion it showed (docs/lsp.md,
--- "Suggestion outcomes"), for its local acceptance figures (`qwenpair stats`).
---
--- Every suggestion carries its id in its command: `qwenpair.accepted` (completions) or
--- `qwenpair.nextEdit` (next edits), arguments `[{id, kind}]`. An accept of the whole runs that
--- command on the server; a word or line accept sends `qwenpair/suggestionOutcome` "partial"
--- with the characters accepted so far; a dismiss (the dismiss key, Esc) sends "dismissed".
--- Typing over a suggestion, or leaving it, sends nothing: the server infers those.
local lsp = require('qwenpair.lsp')

local M = {}

M.NOTIFICATION = 'qwenpair/suggestionOutcome'

--- Characters accepted so far per suggestion id (partial accepts add up).
---@type table<string, integer>
local accepted_chars = {}

--- The id of a suggestion from its LSP item (or its command alone), or nil.
---@param item table|nil an InlineCompletionItem, a native item (`command` field) or a command
---@return string|nil
function M.id(item)
  local command = type(item) == 'table' and (type(item.command) == 'table' and item.command or item) or nil
  local args = type(command) == 'table' and command.arguments or nil
  local first = type(args) == 'table' and args[1] or nil
  local id = type(first) == 'table' and first.id or nil
  return type(id) == 'string' and id or nil
end

--- Whether {item} (an InlineCompletionItem) is a next edit: its command is `qwenpair.nextEdit`.
function M.is_next_edit(item)
  return type(item) == 'table' and type(item.command) == 'table' and item.command.command == 'qwenpair.nextEdit'
end

local function notify(client, bufnr, params)
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    params.uri = vim.uri_from_bufnr(bufnr)
  end
  if vim.fn.has('nvim-0.11') == 1 then
    client:notify(M.NOTIFICATION, params)
  else
    client.notify(M.NOTIFICATION, params)
  end
end

--- The whole suggestion was accepted: runs its command on the server, which records it (and,
--- for a next edit, computes the one after it).
---@param client vim.lsp.Client
---@param command table the item's command
function M.accepted(client, bufnr, command)
  local id = M.id(command)
  if not id then
    return
  end
  accepted_chars[id] = nil
  lsp.execute(client, bufnr, command.command, command.arguments, function() end)
end

--- A word or line of the suggestion {item_or_id} was accepted: {chars} more characters.
---@param client vim.lsp.Client
---@param id string|nil
---@param part string the text accepted now
function M.partial(client, bufnr, id, part)
  if not id then
    return
  end
  local total = (accepted_chars[id] or 0) + vim.fn.strchars(part)
  accepted_chars[id] = total
  notify(client, bufnr, { id = id, outcome = 'partial', acceptedChars = total })
end

--- The user dismissed the suggestion {id}.
---@param client vim.lsp.Client
---@param id string|nil
function M.dismissed(client, bufnr, id)
  if not id then
    return
  end
  accepted_chars[id] = nil
  notify(client, bufnr, { id = id, outcome = 'dismissed' })
end

--- Client-side handlers of the items' commands, which Neovim 0.12's native inline completion
--- runs after inserting an item: forward them to the server (recording the accept) and, for a
--- next edit, ask for the one after it. (After a completion's accept the server's own edit
--- pause asks: a request at every accept while typing would hold the model that the next
--- completion needs.)
function M.register_commands()
  for _, name in ipairs({ 'qwenpair.accepted', 'qwenpair.nextEdit' }) do
    vim.lsp.commands[name] = function(command, ctx)
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      if client then
        M.accepted(client, ctx.bufnr, command)
        if name == 'qwenpair.nextEdit' then
          require('qwenpair.next_edit').after_accept(ctx.bufnr)
        end
      end
    end
  end
end

return M
