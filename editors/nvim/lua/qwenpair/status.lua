--- qwenpair.status: `:QwenpairStatus` shows what the server runs (model, adapter, index,
--- last latency, today's suggestion figures) from the `qwenpair.status` command, plus any
--- progress in flight.
local lsp = require('qwenpair.lsp')

local M = {}

--- The lines shown for a `qwenpair.status` result {s}.
---@param s table
---@return string[]
function M.format(s)
  -- JSON null may arrive as vim.NIL rather than nil.
  local function get(t, key, default)
    local v = nil
    if type(t) == 'table' then
      v = t[key]
    end
    if v == nil or v == vim.NIL then
      return default
    end
    return v
  end
  local index = get(s, 'index', {})
  local latency = get(s, 'last_latency_ms', nil)
  local lines = {
    ('model:        %s (%s)'):format(get(s, 'model', '-'), get(s, 'model_state', '-')),
    'chat model:   ' .. tostring(get(s, 'chat_model', '-')),
    'adapter:      ' .. tostring(get(s, 'adapter', 'none')),
    ('index:        %s files (%s)'):format(get(index, 'files', 0), get(index, 'state', '-')),
    'last latency: ' .. (latency and ('%d ms'):format(latency) or '-'),
  }
  local today = get(s, 'suggestions_today', nil)
  if today and get(today, 'enabled', true) == false then
    table.insert(lines, 'today:        figures off (stats.enabled = false)')
  elseif today then
    local function pct(key)
      local v = get(today, key, nil)
      return v and ('%d%%'):format(math.floor(v * 100 + 0.5)) or '-'
    end
    table.insert(lines, ('today:        %d shown, %d accepted, %d partly, %d dismissed'):format(
      get(today, 'shown', 0), get(today, 'accepted', 0), get(today, 'partial', 0), get(today, 'dismissed', 0)))
    table.insert(lines, ('              accepted %s, kept %s after 30 s, undone %s'):format(
      pct('acceptance_rate'), pct('retained_rate_30s'), pct('reversal_rate')))
  end
  local problem = get(s, 'model_problem', nil)
  if problem then
    table.insert(lines, 'problem:      ' .. problem)
  end
  local progress = vim.lsp.status()
  if progress ~= '' then
    table.insert(lines, 'progress:     ' .. progress)
  end
  return lines
end

function M.show()
  local client = lsp.client_for(0, true)
  if not client then
    return
  end
  lsp.execute(client, nil, 'qwenpair.status', {}, function(err, s)
    if err then
      vim.notify('qwenpair: status failed: ' .. err.message, vim.log.levels.ERROR)
    else
      vim.notify(table.concat(M.format(s or {}), '\n'))
    end
  end)
end

return M
