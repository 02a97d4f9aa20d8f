-- The README's Lua tour runs as written (with the runner, against the
-- integration node), so the front page cannot drift from the API.
local testenv = require "testenv"

describe("the README's tour", function()
  it("runs with the runner and prints what it says", function()
    local f = assert(io.open("README.md"))
    local text = f:read("*a")
    f:close()
    local code = text:match("```lua\n(.-)```")
    assert.is_not_nil(code, "README.md has a Lua block")
    code = code:gsub('"127%.0%.0%.1"', '"' .. testenv.hosts()[1] .. '"', 1)
    local path = os.tmpname()
    local out = assert(io.open(path, "w"))
    out:write(code)
    out:close()
    finally(function() os.remove(path) end)
    local rc, output = testenv.run(testenv.q(testenv.runner) .. " " .. testenv.q(path))
    assert.equal(0, rc, output)
    assert.matches("%x+%-%x+%-%x+%-%x+%-%x+%s+Alice", output)
    assert.matches("CREATE TABLE tour%.users", output)
  end)
end)
