--- qwenpair: a Neovim client for the qwenpair language server (local Qwen2.5-Coder).
---
--- require('qwenpair').setup({...}) starts `qwenpair serve` for file buffers and turns on
--- ghost text there; the :Qwenpair* commands are defined in plugin/qwenpair.lua.
--- Options and defaults: lua/qwenpair/config.lua and :help qwenpair.
local config = require('qwenpair.config')
local lsp = require('qwenpair.lsp')

local M = {}

--- Whether setup() ran (reported by :checkhealth qwenpair).
M.started = false

---@param opts table|nil see :help qwenpair-options
function M.setup(opts)
  config.set(opts)
  vim.api.nvim_create_autocmd('LspAttach', {
    group = vim.api.nvim_create_augroup('qwenpair.attach', { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == lsp.NAME then
        require('qwenpair.inline').attach(args.buf)
      end
    end,
  })
  -- The server's code actions carry these commands; run them here so that their answers are
  -- shown (chat) or applied (edit) instead of dropped.
  vim.lsp.commands['qwenpair.edit'] = function(command, ctx)
    require('qwenpair.edit').from_code_action(command, ctx)
  end
  vim.lsp.commands['qwenpair.chat'] = function(command, ctx)
    require('qwenpair.chat').from_code_action(command, ctx)
  end
  -- Items carry qwenpair.accepted / qwenpair.nextEdit (their suggestion id), which Neovim
  -- 0.12 runs on accept: recorded by the server, then the next edit is asked for.
  require('qwenpair.outcome').register_commands()
  lsp.start({
    ['qwenpair/chatDelta'] = function(err, params)
      require('qwenpair.chat').on_delta(err, params)
    end,
    ['qwenpair/inlineCompletionExtended'] = function(err, params)
      require('qwenpair.inline').on_extended(err, params)
    end,
    ['qwenpair/nextEditReady'] = function(err, params)
      require('qwenpair.next_edit').on_ready(err, params)
    end,
  })
  M.started = true
end

return M
