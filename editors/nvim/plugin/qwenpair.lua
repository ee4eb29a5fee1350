-- qwenpair user commands. They load their modules on first use; the server itself starts
-- only after require('qwenpair').setup().
if vim.g.loaded_qwenpair then
  return
end
vim.g.loaded_qwenpair = true

vim.api.nvim_create_user_command('QwenpairChat', function(opts)
  require('qwenpair.chat').command(opts)
end, { nargs = '*', range = true, desc = 'Ask qwenpair a question (about the selected lines)' })

vim.api.nvim_create_user_command('QwenpairEdit', function(opts)
  require('qwenpair.edit').command(opts)
end, { nargs = '*', range = true, desc = 'Rewrite the selected lines by an instruction' })

vim.api.nvim_create_user_command('QwenpairStatus', function()
  require('qwenpair.status').show()
end, { desc = 'Show the qwenpair model, index and latency' })

vim.api.nvim_create_user_command('QwenpairNextEdit', function()
  require('qwenpair.next_edit').request(vim.api.nvim_get_current_buf(), { notify = true })
end, { desc = 'Ask qwenpair for the next edit (then Tab to jump to it, Tab to accept)' })
