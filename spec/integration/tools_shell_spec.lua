-- cqlua shell (stdin and a pseudo-terminal) and cqlua status against the real server.
local testenv = require "testenv"
local tools = require "tools_env"

describe("cqlua shell", function()
  setup(function()
    tools.run("shell", "DROP KEYSPACE IF EXISTS ops_shell;\n")
  end)
  teardown(function()
    tools.run("shell", "DROP KEYSPACE IF EXISTS ops_shell;\n")
  end)

  it("runs a script from standard input: schema, inserts, selects, describe", function()
    local rc, out, err = tools.run("shell", [[
CREATE KEYSPACE ops_shell WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
USE ops_shell;
CREATE TABLE t (k int PRIMARY KEY, v text,
                l list<int>);  -- a statement over two lines
INSERT INTO t (k, v, l) VALUES (1, 'one; with a semicolon', [1, 2]);
INSERT INTO t (k, v) VALUES (22, 'twenty-two');
SELECT k, v, l FROM t WHERE k IN (1, 22);
CONSISTENCY QUORUM
CONSISTENCY
DESCRIBE TABLE t
DESCRIBE KEYSPACES;
:lua 6 * 7
SELECT * FROM no_such_table;
SELECT count(*) FROM t;
]])
    assert.equal(1, rc, out .. err) -- one statement failed
    assert.truthy(out:find([[
  k | v                     | l
----+-----------------------+-------
  1 | one; with a semicolon | [1,2]
 22 | twenty-two            | null

(2 rows)]], 1, true), out)
    assert.truthy(out:find("Consistency level set to QUORUM.\nCurrent consistency level is QUORUM.", 1, true), out)
    assert.truthy(out:find("CREATE TABLE ops_shell.t (\n    k int PRIMARY KEY,", 1, true), out)
    assert.truthy(out:find("ops_shell", 1, true) and out:find("system_schema", 1, true), out)
    assert.truthy(out:find("\n42\n", 1, true), out)
    assert.truthy(err:find("stdin:13: InvalidRequest: table no_such_table does not exist", 1, true), err)
    assert.truthy(out:find(" count\n-------\n     2\n", 1, true), out)
  end)

  it("exits 0 when every statement succeeded, and reports an unfinished one", function()
    local rc, out, err = tools.run("shell", "SELECT key FROM system.local;\n")
    assert.equal(0, rc, out .. err)
    assert.truthy(out:find("(1 rows)", 1, true), out)
    local _
    rc, _, err = tools.run("shell", "SELECT key FROM system.local\n")
    assert.equal(1, rc)
    assert.truthy(err:find("incomplete statement at end of input", 1, true), err)
  end)

  it("works through a pseudo-terminal with line editing and history", function()
    local have_script = testenv.run("command -v script") == 0
    if not have_script then
      print("skipped: no `script` (util-linux) to provide a pseudo-terminal")
      return
    end
    local home = testenv.tmpdir()
    -- keys: a statement typed with a typo fixed by Left + Backspace, then Up (history) + Enter, then EXIT
    local keys = [[SELECT key FROM system.localx;\033[D\177\rX\025\033[A\rEXIT\r]]
    local cmd = "HOME=" .. home .. " " .. tools.cmd("shell")
    local rc, out = testenv.run("(sleep 1.5; printf '" .. keys .. "'; sleep 3) | timeout 20 script -qfec "
      .. testenv.q(cmd) .. " /dev/null")
    local history = tools.read(home .. "/.cqlua_history") or ""
    testenv.rm(home)
    assert.equal(0, rc, out)
    assert.truthy(out:find("cqlua> ", 1, true), out)
    local _, n = out:gsub("%(1 rows%)", "")
    assert.equal(2, n, out)
    assert.truthy(history:find("SELECT key FROM system.local;", 1, true), history)
  end)
end)

describe("cqlua status", function()
  it("shows hosts, data centers, ownership and schema agreement", function()
    local rc, out, err = tools.run("status")
    assert.equal(0, rc, out .. err)
    assert.truthy(out:find("Datacenter: ", 1, true), out)
    assert.truthy(out:find("UP", 1, true), out)
    assert.truthy(out:find("100.0%", 1, true), out) -- one node owns the whole ring
    assert.truthy(out:find("Schema versions: agreement", 1, true), out)
    rc, out = tools.run("ring")
    assert.equal(0, rc, out)
    assert.truthy(out:find("Token", 1, true), out)
  end)
end)
