--- qwenpair.health: `:checkhealth qwenpair`: Neovim version, which ghost-text engine runs,
--- whether the server command is found, the model setting, and the running servers.
local M = {}

function M.check()
  local health = vim.health
  local config = require('qwenpair.config')
  local opts = config.options
  health.start('qwenpair')

  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. version)
  else
    health.error('Neovim ' .. version .. ' is too old', { 'qwenpair needs Neovim 0.10 or newer' })
  end

  if not require('qwenpair').started then
    health.warn('setup() has not been called', { "add require('qwenpair').setup({}) to your config" })
  end

  local engine = require('qwenpair.inline').engine()
  if engine == 'native' then
    health.ok('ghost text: native vim.lsp.inline_completion')
  elseif engine == 'extmark' then
    health.ok('ghost text: extmarks (no native inline completion, or inline = "extmark")')
  else
    health.info('ghost text is off (inline = "off")')
  end

  if vim.fn.executable(opts.cmd[1]) == 1 then
    health.ok('server command: ' .. table.concat(opts.cmd, ' '))
  else
    health.error(('server command not found: %s'):format(opts.cmd[1]), {
      'install qwenpair (pip install qwenpair) so that `qwenpair` is on PATH',
      "or set cmd = { '/path/to/qwenpair', 'serve' } in setup()",
    })
  end

  if opts.init_options.model then
    health.ok('model: ' .. tostring(opts.init_options.model))
  else
    health.info("no model in init_options: the server uses its default ('qwenpair model list')")
  end

  local clients = vim.lsp.get_clients({ name = 'qwenpair' })
  if #clients == 0 then
    health.info('no qwenpair server is running (open a file to start one)')
  end
  for _, client in ipairs(clients) do
    health.ok(('server running: client %d, root %s'):format(client.id, client.root_dir or '-'))
  end
end

return M
