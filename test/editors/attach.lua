-- Headless Neovim (0.7+) attaches to `iris-helper serve --stdio` with vim.lsp.start_client,
-- runs iris.status through workspace/executeCommand and checks the answer and the iris/status
-- notification. Run by scripts/editors-test.sh:
--   nvim --headless -u NONE -i NONE -c 'luafile test/editors/attach.lua'
-- Env: IRIS_HELPER (binary), PROJECT_DIR (a folder that is not an IRIS project), RESULT (JSON out).
local helper = assert(os.getenv('IRIS_HELPER'), 'IRIS_HELPER not set')
local dir = assert(os.getenv('PROJECT_DIR'), 'PROJECT_DIR not set')
local out = os.getenv('RESULT') or 'nvim-result.json'
local seen = { iris_status = {}, showMessage = {}, logMessage = {} }

local function finish(ok, why)
  seen.ok, seen.why = ok, why
  local f = assert(io.open(out, 'w'))
  f:write(vim.fn.json_encode(seen), '\n')
  f:close()
  io.stdout:write((ok and 'PASS ' or 'FAIL ') .. 'neovim: ' .. why .. '\n')
  vim.cmd('cquit ' .. (ok and 0 or 1))
end

local ok_run, err_run = pcall(function()
  local id = vim.lsp.start_client({
    name = 'iris-helper',
    cmd = { helper, 'serve', '--stdio', '--log-level', 'debug', '--log-file', dir .. '/../helper-nvim.log' },
    root_dir = dir,
    init_options = { autoStart = false, commandProvider = true },
    handlers = {
      ['iris/status'] = function(_, r) table.insert(seen.iris_status, r) end,
      ['window/showMessage'] = function(_, r) table.insert(seen.showMessage, r) end,
      ['window/logMessage'] = function(_, r) table.insert(seen.logMessage, r) end,
    },
    on_exit = function(code, signal) seen.server_exit = { code = code, signal = signal } end,
  })
  if not id then return finish(false, 'start_client returned nil') end
  local client = vim.lsp.get_client_by_id(id)

  vim.wait(20000, function() return client.initialized or seen.server_exit ~= nil end, 10)
  if not client.initialized then
    return finish(false, 'not initialized; server exit: ' .. vim.inspect(seen.server_exit))
  end
  local caps = client.server_capabilities or client.resolved_capabilities
  seen.commands = client.server_capabilities and client.server_capabilities.executeCommandProvider
    and client.server_capabilities.executeCommandProvider.commands

  local res, err = client.request_sync('workspace/executeCommand', { command = 'iris.status' }, 20000)
  if not res then return finish(false, 'executeCommand: ' .. tostring(err)) end
  if res.err then return finish(false, 'executeCommand error: ' .. vim.inspect(res.err)) end
  seen.executeCommand = res.result

  local bad, berr = client.request_sync('workspace/executeCommand', { command = 'iris.nope' }, 20000)
  seen.unknown_command_error = bad and bad.err

  vim.wait(20000, function() return #seen.iris_status > 0 end, 10)

  client.stop() -- shutdown + exit
  vim.wait(10000, function() return seen.server_exit ~= nil end, 10)

  local r, st = res.result, seen.iris_status[1]
  local checks = {
    { 'capabilities list iris.status', type(seen.commands) == 'table' and vim.tbl_contains(seen.commands, 'iris.status') },
    { 'iris.status answers for the folder', type(r) == 'table' and r.project == dir },
    { 'the folder is not an IRIS project', type(r) == 'table' and r.isIrisProject == false },
    { 'nothing was started', type(r) == 'table' and (r.state == 'not-created' or r.state == 'docker-unavailable') },
    { 'an iris/status notification arrived', type(st) == 'table' and st.project == dir and st.state == r.state },
    { 'unknown command is -32602', type(seen.unknown_command_error) == 'table' and seen.unknown_command_error.code == -32602 },
    { 'server exited with code 0', seen.server_exit ~= nil and seen.server_exit.code == 0 },
  }
  for _, c in ipairs(checks) do
    if not c[2] then return finish(false, 'check failed: ' .. c[1] .. ' (see ' .. out .. ')') end
  end
  finish(true, 'all ' .. #checks .. ' checks passed')
end)
if not ok_run then finish(false, 'lua error: ' .. tostring(err_run)) end
