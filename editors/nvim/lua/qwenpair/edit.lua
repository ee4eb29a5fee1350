--- qwenpair.edit: `:QwenpairEdit` rewrites the selected lines by an instruction.
---
--- It sends workspace/executeCommand `qwenpair.edit` with the lines' range and the buffer
--- version; the server answers with a WorkspaceEdit, which is applied here as one undo step.
--- A buffer that changed meanwhile gets ContentModified (-32801) and nothing is applied.
local lsp = require('qwenpair.lsp')

local M = {}

local CONTENT_MODIFIED = -32801

--- The LSP range of whole lines {line1}..{line2} (1-based, inclusive) in {bufnr}.
local function lines_range(bufnr, line1, line2, encoding)
  local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, true)[1]
  return {
    start = { line = line1 - 1, character = 0 },
    ['end'] = {
      line = line2 - 1,
      character = vim.lsp.util.character_offset(bufnr, line2 - 1, #last, encoding),
    },
  }
end

local function apply(bufnr, client, result)
  vim.api.nvim_buf_call(bufnr, function()
    -- Close the current undo block so that one `u` undoes exactly this edit (:h undo-break).
    vim.cmd('let &undolevels = &undolevels')
    vim.lsp.util.apply_workspace_edit(result.edit, client.offset_encoding)
  end)
  for _, warning in ipairs(result.warnings or {}) do
    vim.notify('qwenpair: ' .. warning, vim.log.levels.WARN)
  end
  vim.notify('qwenpair: edit applied (u undoes it)')
end

--- Sends `qwenpair.edit` {args} (uri, range, instruction, version, ...) and applies the answer.
local function send(bufnr, client, args)
  lsp.execute(client, bufnr, 'qwenpair.edit', { args }, function(err, result)
    if err and err.code == CONTENT_MODIFIED then
      vim.notify('qwenpair: the buffer changed while editing; run :QwenpairEdit again', vim.log.levels.WARN)
    elseif err then
      vim.notify('qwenpair: edit failed: ' .. err.message, vim.log.levels.ERROR)
    elseif result and result.edit then
      apply(bufnr, client, result)
    end
  end)
end

--- Edits lines {line1}..{line2} of {bufnr} by {instruction}.
function M.run(bufnr, line1, line2, instruction)
  local client = lsp.client_for(bufnr, false)
  if not client then
    return
  end
  send(bufnr, client, {
    uri = vim.uri_from_bufnr(bufnr),
    range = lines_range(bufnr, line1, line2, client.offset_encoding),
    instruction = instruction,
    version = vim.lsp.util.buf_versions[bufnr],
  })
end

--- Client side of the server's `qwenpair.edit` command (its code actions carry it): asks for
--- the instruction when the action has none, and applies the answer, which a plain
--- executeCommand would drop.
function M.from_code_action(command, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local args = vim.deepcopy(command.arguments[1])
  if args.instruction then
    return send(ctx.bufnr, client, args)
  end
  vim.ui.input({ prompt = 'qwenpair edit: ' }, function(instruction)
    if instruction and instruction ~= '' then
      args.instruction = instruction
      send(ctx.bufnr, client, args)
    end
  end)
end

--- The :QwenpairEdit command: the instruction is the argument, else asked for.
function M.command(opts)
  local bufnr = vim.api.nvim_get_current_buf()
  if opts.args ~= '' then
    return M.run(bufnr, opts.line1, opts.line2, opts.args)
  end
  vim.ui.input({ prompt = 'qwenpair edit: ' }, function(instruction)
    if instruction and instruction ~= '' then
      M.run(bufnr, opts.line1, opts.line2, instruction)
    end
  end)
end

return M
