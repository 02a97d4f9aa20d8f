-- Error objects: the seed's hierarchy, server error mapping, tostring.
local errors = require "cql.errors"

describe("cql.errors", function()
  it("maps Unavailable with the seed's field names", function()
    local err = errors.from_server({ code = 0x1000, message = "Cannot achieve consistency level QUORUM",
                                     consistency = 4, required = 2, alive = 1 }, "127.0.0.1")
    assert.equal("Unavailable", err.name)
    assert.equal("QUORUM", err.consistency)
    assert.equal(2, err.required_replicas)
    assert.equal(1, err.alive_replicas)
    assert.equal("127.0.0.1", err.host)
    assert.is_true(err:is_a(errors.Unavailable))
    assert.is_true(err:is_a(errors.RequestExecutionException))
    assert.is_true(err:is_a(errors.DriverException))
    assert.is_false(err:is_a(errors.RequestValidationException))
    assert.equal("Unavailable (code 0x1000): Cannot achieve consistency level QUORUM info={consistency=QUORUM, "
      .. "required_replicas=2, alive_replicas=1} [host 127.0.0.1]", tostring(err))
  end)

  it("maps timeouts, write types and data_retrieved", function()
    local rt = errors.from_server({ code = 0x1200, message = "m", consistency = 10, received = 0,
                                    block_for = 1, data_present = false })
    assert.equal("ReadTimeout", rt.name)
    assert.equal("LOCAL_ONE", rt.consistency)
    assert.equal(1, rt.required_responses)
    assert.equal(0, rt.received_responses)
    assert.is_false(rt.data_retrieved)
    assert.is_true(rt:is_a(errors.Timeout))
    local wt = errors.from_server({ code = 0x1100, message = "m", consistency = 1, received = 0,
                                    block_for = 1, write_type = "BATCH_LOG" })
    assert.equal(errors.WriteType.BATCH_LOG, wt.write_type)
    local unknown = errors.from_server({ code = 0x1100, message = "m", write_type = "FUTURE_KIND" })
    assert.equal("FUTURE_KIND", unknown.write_type)
  end)

  it("maps coordination failures with the v5 reason map", function()
    local f = errors.from_server({ code = 0x1300, message = "m", consistency = 4, received = 1, block_for = 2,
                                   num_failures = 1, reasons = { ["127.0.0.2"] = 0 }, data_present = true })
    assert.equal("ReadFailure", f.name)
    assert.is_true(f:is_a(errors.CoordinationFailure))
    assert.same({ ["127.0.0.2"] = 0 }, f.error_code_map)
    assert.equal(1, f.failures)
    assert.is_true(f.data_retrieved)
  end)

  it("keeps SyntaxException apart from InvalidRequest, as the seed does", function()
    local s = errors.from_server({ code = 0x2000, message = "line 1:0 no viable alternative" })
    assert.equal("SyntaxException", s.name)
    assert.is_false(s:is_a(errors.InvalidRequest))
    assert.is_true(s:is_a(errors.RequestValidationException))
    assert.is_nil(s.consistency)
  end)

  it("names AlreadyExists' keyspace and table, and function failures", function()
    local a = errors.from_server({ code = 0x2400, message = "Table ks.t already exists", keyspace = "ks", table = "t" })
    assert.is_true(a:is_a(errors.ConfigurationException))
    assert.equal("ks", a.keyspace)
    assert.equal("t", a.table)
    local ff = errors.from_server({ code = 0x1400, message = "boom", keyspace = "ks", ["function"] = "f",
                                    arg_types = { "int" } })
    assert.equal("f", ff["function"])
    assert.same({ "int" }, ff.arg_types)
  end)

  it("keeps the code of an error it does not know", function()
    local e = errors.from_server({ code = 0x7777, message = "new in a future server" }, "h")
    assert.equal("ServerError", e.name)
    assert.equal(0x7777, e.code)
    assert.truthy(tostring(e):find("0x7777", 1, true))
  end)

  it("builds driver-side errors with their fields", function()
    local inner = errors.AuthenticationFailed { message = "bad credentials", host = "127.0.0.1" }
    local nha = errors.NoHostAvailable { message = "Unable to connect to any servers",
                                         errors = { ["127.0.0.1"] = inner } }
    assert.equal("NoHostAvailable", nha.name)
    assert.is_false(nha:is_a(errors.DriverException)) -- as in the seed
    assert.equal(inner, nha.errors["127.0.0.1"])
    assert.truthy(tostring(nha):find("AuthenticationFailed: bad credentials", 1, true))
    assert.is_true(errors.is_error(nha))
    assert.is_false(errors.is_error({ name = "x" }))
    assert.is_false(errors.is_error("x"))
    local t = errors.OperationTimedOut { message = "Client request timeout", last_host = "127.0.0.1" }
    assert.equal("OperationTimedOut: Client request timeout info={last_host=127.0.0.1}", tostring(t))
  end)
end)
