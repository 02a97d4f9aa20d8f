--- The `cqlua` command: runs a script (or `-e` code) as the main coroutine.
-- @module cql.runner
local runner = {}

local USAGE = [=[
usage: cqlua [options] [script [args...]]
       cqlua [options] shell|migrate|unload|load|status|ring [args...]
  -e CODE            run CODE (may be repeated; runs before the script)
  --hosts H1,H2      contact points of clusters created without them
                     (default: $CQLUA_HOSTS, else 127.0.0.1)
  --port PORT        their CQL port (default: $CQLUA_PORT, else 9042)
  --user NAME        authenticate as NAME (default: $CQLUA_USER)
  --password SECRET  its password (default: $CQLUA_PASSWORD; prefer the
                     environment: arguments are visible to other users)
  -v, --version      print the version and exit
  -h, --help         print this help and exit
  -                  read the script from standard input
Subcommands (operations tools; `cqlua SUBCOMMAND --help` for each):
  shell              interactive CQL shell (statements from stdin when not a terminal)
  migrate DIR        apply ordered migration files once (--dry-run: print the plan)
  unload / load      bulk export / import of a table as CSV or JSON Lines
  status, ring       hosts, data centers, racks, token ownership, schema versions
A script named like a subcommand runs when given as a path (./shell).]=]

-- Subcommands: module under cql.tools whose `main(args)` returns an exit status.
local SUBCOMMANDS = { shell = "cql.tools.shell", migrate = "cql.tools.migrate", unload = "cql.tools.bulk",
                      load = "cql.tools.bulk", status = "cql.tools.status", ring = "cql.tools.status" }

-- Options that take a value, and where they go in cql.runtime.defaults.
local VALUE_OPTIONS = { ["--hosts"] = "hosts", ["--port"] = "port", ["--user"] = "username",
                        ["--password"] = "password" }

local function fail(msg)
  io.stderr:write("cqlua: ", msg, "\n")
  return 2
end

--- Parses argv (argv[0] is the program) into chunks to run and the script's args.
local function parse(argv)
  local opts = { chunks = {} }
  local i = 1
  while argv[i] do
    local a = argv[i]
    if a == "-e" then
      if not argv[i + 1] then return nil, "-e needs an argument" end
      opts.chunks[#opts.chunks + 1] = { code = argv[i + 1], name = "=(command line)" }
      i = i + 2
    elseif VALUE_OPTIONS[a] then
      if not argv[i + 1] then return nil, a .. " needs an argument" end
      opts[VALUE_OPTIONS[a]] = argv[i + 1]
      i = i + 2
    elseif a == "-v" or a == "--version" then
      opts.version = true
      i = i + 1
    elseif a == "-h" or a == "--help" then
      opts.help = true
      i = i + 1
    elseif a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option " .. a .. "\n" .. USAGE
    else
      break
    end
  end
  opts.script = argv[i]
  opts.script_index = i
  return opts
end

--- Runs `fn` as the driver's main coroutine, so driver calls in it yield
-- and spawned coroutines run meanwhile; reports an uncaught error with the
-- traceback of where it happened.
local function run_main(fn, ...)
  local ok, err = require("cql.runtime").run(fn, ...)
  if not ok then
    local msg = type(err) == "table" and tostring(err) or err
    io.stderr:write("cqlua: ", tostring(msg), "\n")
    return 1
  end
  return 0
end

-- Fills cql.runtime.defaults from the flags, then the environment.
local function set_defaults(opts)
  local hosts = opts.hosts or os.getenv("CQLUA_HOSTS")
  local port = opts.port or os.getenv("CQLUA_PORT")
  local d = require("cql.runtime").defaults
  if hosts and hosts ~= "" then
    d.contact_points = {}
    for h in hosts:gmatch("[^,%s]+") do d.contact_points[#d.contact_points + 1] = h end
  end
  if port and port ~= "" then
    d.port = tonumber(port)
    if not d.port or d.port < 1 or d.port > 65535 or d.port % 1 ~= 0 then
      return nil, "bad port '" .. port .. "' (1 to 65535 expected)"
    end
  end
  d.username = opts.username or os.getenv("CQLUA_USER")
  d.password = opts.password or os.getenv("CQLUA_PASSWORD")
  return true
end

--- Entry point called by the C runner with its argv.
function runner.main(argv)
  local opts, err = parse(argv)
  if not opts then return fail(err) end
  local ok, derr = set_defaults(opts)
  if not ok then return fail(derr) end
  if opts.help then
    print(USAGE)
    return 0
  end
  if opts.version then
    print("cqlua " .. require("cql").version)
    return 0
  end
  -- The global `arg` as the standalone lua interpreter sets it.
  local script_arg = { [-1] = argv[0] }
  for k = opts.script_index, #argv do script_arg[k - opts.script_index] = argv[k] end
  _G.arg = script_arg

  for _, chunk in ipairs(opts.chunks) do
    local fn, perr = loadstring(chunk.code, chunk.name)
    if not fn then return fail(perr) end
    local rc = run_main(fn)
    if rc ~= 0 then return rc end
  end
  if opts.script and SUBCOMMANDS[opts.script] then
    local tool = require(SUBCOMMANDS[opts.script])
    local args = {}
    for k = opts.script_index + 1, #argv do args[#args + 1] = argv[k] end
    local ran, rc = require("cql.runtime").run(tool.main, args, opts.script)
    if not ran then
      io.stderr:write("cqlua ", opts.script, ": ", tostring(rc), "\n")
      return 1
    end
    return tonumber(rc) or 0
  end
  if opts.script then
    local fn, perr
    if opts.script == "-" then
      fn, perr = loadstring(io.read("*a"), "=stdin")
    else
      fn, perr = loadfile(opts.script)
    end
    if not fn then return fail(perr) end
    return run_main(fn, unpack(script_arg, 1, #script_arg))
  end
  if #opts.chunks == 0 then print(USAGE) end
  return 0
end

return runner
