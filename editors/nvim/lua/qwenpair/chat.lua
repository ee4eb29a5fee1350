--- qwenpair.chat: `:QwenpairChat` asks the chat model a question in a markdown scratch buffer.
---
--- The answer streams in from `qwenpair/chatDelta` notifications (matched by streamId); the
--- command's final result replaces the streamed text, since it is the authoritative answer.
--- A selection (a range) is sent as the code the question is about. The conversation so far
--- goes with every question as history.
local lsp = require('qwenpair.lsp')
local text = require('qwenpair.text')

local M = {}

local streams = {} ---@type table<string, {buf: integer}>
local history = {} ---@type {role: string, content: string}[]
local count = 0

local function chat_buffer()
  local buf = vim.fn.bufnr('qwenpair://chat')
  if buf == -1 then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, 'qwenpair://chat')
    vim.bo[buf].filetype = 'markdown'
  end
  if vim.fn.bufwinid(buf) == -1 then
    vim.cmd('botright split')
    vim.api.nvim_win_set_buf(0, buf)
  end
  return buf
end

--- Appends {s} to the end of {buf}, continuing its last line.
local function append(buf, s)
  local last = vim.api.nvim_buf_line_count(buf)
  local parts = text.lines(s)
  parts[1] = vim.api.nvim_buf_get_lines(buf, last - 1, last, true)[1] .. parts[1]
  vim.api.nvim_buf_set_lines(buf, last - 1, last, true, parts)
end

--- Handler of the `qwenpair/chatDelta` notification.
function M.on_delta(_, params)
  local stream = params and streams[params.streamId]
  if stream and vim.api.nvim_buf_is_valid(stream.buf) then
    append(stream.buf, params.text)
  end
end

--- Sends `qwenpair.chat` {args} (question, uri?, range?) with the history so far, and shows
--- the question and the streamed answer in the chat buffer.
local function send(client, bufnr, args)
  count = count + 1
  local id = ('nvim-%d-%d'):format(vim.fn.getpid(), count)
  args = vim.tbl_extend('force', args, { history = vim.deepcopy(history), streamId = id })
  local buf = chat_buffer()
  append(buf, table.concat({ '', '## You', args.question, '', '## qwenpair', '' }, '\n'))
  local answer_start = vim.api.nvim_buf_line_count(buf) - 1
  streams[id] = { buf = buf }
  lsp.execute(client, bufnr, 'qwenpair.chat', { args }, function(err, result)
    streams[id] = nil
    if not vim.api.nvim_buf_is_valid(buf) then
      return
    end
    if err then
      append(buf, '\n[error] ' .. err.message)
      return
    end
    local lines = text.lines(result.text)
    for _, warning in ipairs(result.warnings or {}) do
      table.insert(lines, '> ' .. warning)
    end
    vim.api.nvim_buf_set_lines(buf, answer_start, -1, false, lines)
    -- `sent` is the turn as the model saw it (question plus context): the server reuses its
    -- cache of it, and a follow-up need not send the code again (docs/lsp.md).
    table.insert(history, { role = 'user', content = result.sent or args.question })
    table.insert(history, { role = 'assistant', content = result.text })
  end)
end

--- Asks {question} about buffer {bufnr}, lines {line1}..{line2} when {with_range}.
function M.ask(bufnr, question, with_range, line1, line2)
  local client = lsp.client_for(bufnr, true)
  if not client then
    return
  end
  local args = { question = question }
  -- The document goes along only when its server is the one asked (not from the chat buffer).
  local attached = lsp.client(bufnr) ~= nil
  if attached then
    args.uri = vim.uri_from_bufnr(bufnr)
  end
  if with_range and attached then
    args.range = { start = { line = line1 - 1, character = 0 }, ['end'] = { line = line2, character = 0 } }
  end
  send(client, attached and bufnr or nil, args)
end

--- Client side of the server's `qwenpair.chat` command (the Explain and Generate tests code
--- actions): the answer goes to the chat buffer, where a plain executeCommand would drop it.
function M.from_code_action(command, ctx)
  send(vim.lsp.get_client_by_id(ctx.client_id), ctx.bufnr, command.arguments[1])
end

--- The :QwenpairChat command: the question is the argument, else asked for.
function M.command(opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local function go(question)
    if question and question ~= '' then
      M.ask(bufnr, question, opts.range > 0, opts.line1, opts.line2)
    end
  end
  if opts.args ~= '' then
    return go(opts.args)
  end
  vim.ui.input({ prompt = 'qwenpair chat: ' }, go)
end

return M
