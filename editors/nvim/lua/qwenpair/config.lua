--- qwenpair.config: the plugin's options, their defaults, and how a user's table merges in.
---
--- Server-side settings (model, adapter, context budget, latency target) are not
--- interpreted here: `init_options` goes to the server verbatim as initializationOptions, with
--- the keys of the server's settings (lsp_server/settings.py).
local M = {}

M.defaults = {
  -- How to start the language server (stdio).
  cmd = { 'qwenpair', 'serve' },
  -- Filetypes to attach to; nil attaches to every file buffer (the server's
  -- enabled_languages still decides where completions are offered).
  filetypes = nil,
  -- Files or directories that mark a workspace root (what the server indexes).
  root_markers = { '.git' },
  -- initializationOptions: model, chat_model, adapter, n_ctx, threads, gpu_layers, and an
  -- engine table (context_tokens, latency_target_s, ...).
  init_options = {},
  -- Ghost text: 'auto' (native vim.lsp.inline_completion on 0.12+, else extmarks),
  -- 'native', 'extmark', or 'off'.
  inline = 'auto',
  -- Extmark ghost text only: wait this long after a keystroke before asking the server.
  debounce_ms = 150,
  -- Next-edit suggestions (:help qwenpair-next-edit): asked for when the server announces one
  -- (after its own edit pause, `next_edit.pause_ms` in init_options), after an accept, and on
  -- :QwenpairNextEdit. pause_ms: also ask after this many milliseconds without an edit here
  -- (nil: leave the pause to the server).
  next_edit = {
    enabled = true,
    pause_ms = nil,
  },
  -- Insert-mode keys (next_edit and next_edit_dismiss: also normal mode); set one to false
  -- to leave that key alone.
  keymaps = {
    accept = '<Tab>',
    accept_line = '<M-C-Right>',
    accept_word = '<M-Right>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
    trigger = '<M-\\>',
    -- Normal and insert mode: jump to the shown next edit, then accept it. In insert mode
    -- `accept` takes a shown completion first.
    next_edit = '<Tab>',
    -- Normal mode: drop the shown next edit (insert mode: the `dismiss` key).
    next_edit_dismiss = '<Esc>',
  },
}

M.options = vim.deepcopy(M.defaults)

-- List-valued options replace the default rather than merging index by index
-- (vim.tbl_deep_extend would turn cmd {'x'} into {'x', 'serve'}).
local LISTS = { 'cmd', 'filetypes', 'root_markers' }

--- Merges {opts} over the defaults and makes the result current.
---@param opts table|nil
---@return table options
function M.set(opts)
  opts = opts or {}
  local merged = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  for _, key in ipairs(LISTS) do
    if opts[key] ~= nil then
      merged[key] = opts[key]
    end
  end
  M.options = merged
  return merged
end

return M
