--- qwenpair.lsp: starts `qwenpair serve` as a language server and talks to it.
---
--- Neovim 0.11+ registers it with vim.lsp.config/vim.lsp.enable; 0.10 starts it from a
--- FileType autocmd with vim.lsp.start. Every request goes through here so the 0.10
--- (client.request) and 0.11+ (client:request) calling styles live in one place.
local config = require('qwenpair.config')

local M = {}

M.NAME = 'qwenpair'

local has_011 = vim.fn.has('nvim-0.11') == 1

--- Whether {bufnr} is a file on disk: named, an ordinary buffer, no `scheme://` name.
--- Only these get a server: the empty buffer Neovim starts with would otherwise start one
--- rooted at the current directory (vim.fs.root searches from there for unnamed buffers),
--- loading a model and indexing a folder nobody opened.
---@param bufnr integer
---@return boolean
function M.is_file_buffer(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  return vim.bo[bufnr].buftype == '' and name ~= '' and not name:match('^%a[%w+.-]*://')
end

--- The workspace root for file buffer {bufnr}: the nearest folder with a root marker, or
--- nil (the server then serves the file without a workspace index).
---@return string|nil
local function root_of(bufnr, markers)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local found = vim.fs.find(markers, { upward = true, path = vim.fs.dirname(name) })[1]
  return found and vim.fs.dirname(found) or nil
end

--- The client configuration shared by both start paths.
---@param handlers table<string, function>
---@return table
local function client_config(handlers)
  local opts = config.options
  return {
    name = M.NAME,
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    -- A function, so that buffers that are not files get no server at all.
    root_dir = function(bufnr, on_dir)
      if M.is_file_buffer(bufnr) then
        on_dir(root_of(bufnr, opts.root_markers))
      end
    end,
    init_options = opts.init_options,
    handlers = handlers,
  }
end

--- Registers and enables the server for matching buffers.
---@param handlers table<string, function> notification handlers (qwenpair/chatDelta)
function M.start(handlers)
  local cfg = client_config(handlers)
  if has_011 then
    vim.lsp.config(M.NAME, cfg)
    vim.lsp.enable(M.NAME)
    return
  end
  vim.api.nvim_create_autocmd('FileType', {
    group = vim.api.nvim_create_augroup('qwenpair.start', { clear = true }),
    callback = function(args)
      if not M.is_file_buffer(args.buf) then
        return
      end
      if cfg.filetypes and not vim.tbl_contains(cfg.filetypes, vim.bo[args.buf].filetype) then
        return
      end
      local start = vim.deepcopy(cfg)
      start.root_dir = root_of(args.buf, config.options.root_markers) -- nil: no workspace
      vim.lsp.start(start, { bufnr = args.buf })
    end,
  })
end

--- The qwenpair client attached to {bufnr}, or nil.
---@param bufnr integer|nil
---@return vim.lsp.Client|nil
function M.client(bufnr)
  return vim.lsp.get_clients({ name = M.NAME, bufnr = bufnr or 0 })[1]
end

--- A running qwenpair client for a command run outside a file (the chat buffer): the one
--- serving the alternate buffer (the file the user came from), else any serving a buffer.
---@return vim.lsp.Client|nil
function M.serving_client()
  local alt = vim.fn.bufnr('#')
  local client = alt > 0 and M.client(alt) or nil
  if client then
    return client
  end
  local clients = vim.lsp.get_clients({ name = M.NAME })
  for _, c in ipairs(clients) do
    if next(c.attached_buffers) ~= nil then
      return c
    end
  end
  return clients[1]
end

--- Sends a request; {handler} gets (err, result, ctx).
---@return boolean ok, integer|nil request_id
function M.request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- Cancels a request sent with M.request.
function M.cancel(client, request_id)
  if has_011 then
    return client:cancel_request(request_id)
  end
  return client.cancel_request(request_id)
end

--- Cancels the request that {holder} keeps in its `request` field ({client, id}, from a
--- M.request whose answer a newer one makes stale), and forgets it.
---@param holder {request: {client: vim.lsp.Client, id: integer}|nil}
function M.cancel_held(holder)
  if holder.request then
    M.cancel(holder.request.client, holder.request.id)
    holder.request = nil
  end
end

--- The client for a command run from {bufnr}: its own, or with {any} any running qwenpair
--- client (chat and status need no document). Says why when there is none.
---@return vim.lsp.Client|nil
function M.client_for(bufnr, any)
  local client = M.client(bufnr) or (any and M.serving_client()) or nil
  if not client then
    vim.notify('qwenpair: no server attached to this buffer (see :checkhealth qwenpair)', vim.log.levels.WARN)
  end
  return client
end

--- Runs a workspace/executeCommand; {handler} gets (err, result).
---@param command string e.g. 'qwenpair.status'
function M.execute(client, bufnr, command, arguments, handler)
  M.request(client, 'workspace/executeCommand', { command = command, arguments = arguments }, handler, bufnr)
end

return M
