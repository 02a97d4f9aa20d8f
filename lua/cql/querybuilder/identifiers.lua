--- CQL identifiers: when a name must be double-quoted, and how.
--
-- A name is written bare only when CQL would read it back unchanged: it
-- matches `[a-z][a-z0-9_]*` (unquoted identifiers are case-folded to
-- lower case) and is not a reserved keyword. Anything else is quoted, with
-- any `"` inside doubled.
-- @module cql.querybuilder.identifiers
local M = {}

-- The reserved keywords of Cassandra 5.0, as the server itself lists them in
-- `org/apache/cassandra/cql3/reserved_keywords.txt` (inside
-- cassandra-all-5.0.9.jar; the CQL documentation's Appendix A marks the
-- same words "reserved"). Unreserved keywords (ttl, key, count, json, ...)
-- are valid bare identifiers and are not listed.
local RESERVED_LIST = {
  "ADD", "ALLOW", "ALTER", "AND", "APPLY", "ASC", "AUTHORIZE", "BATCH", "BEGIN", "BY",
  "COLUMNFAMILY", "CREATE", "DELETE", "DESC", "DESCRIBE", "DROP", "ENTRIES", "EXECUTE",
  "FROM", "FULL", "GRANT", "IF", "IN", "INDEX", "INFINITY", "INSERT", "INTO", "IS",
  "KEYSPACE", "LIMIT", "MATERIALIZED", "MODIFY", "NAN", "NORECURSIVE", "NOT", "NULL",
  "OF", "ON", "OR", "ORDER", "PRIMARY", "RENAME", "REVOKE", "SCHEMA", "SELECT", "SET",
  "TABLE", "TO", "TOKEN", "TRUNCATE", "UNLOGGED", "UPDATE", "USE", "USING", "VIEW",
  "WHERE", "WITH",
}

--- The reserved keywords, upper case, as an array (a copy).
function M.reserved_keywords()
  local out = {}
  for i, w in ipairs(RESERVED_LIST) do out[i] = w end
  return out
end

local RESERVED = {}
for _, w in ipairs(RESERVED_LIST) do RESERVED[w:lower()] = true end

--- Whether a word is a reserved CQL keyword (case-insensitive).
-- @tparam string word
-- @treturn boolean
function M.is_reserved(word)
  return type(word) == "string" and RESERVED[word:lower()] == true
end

--- Whether a name can be written without quotes and mean itself.
-- @tparam string name the name as stored (case-sensitive)
-- @treturn boolean
function M.is_bare(name)
  return name:match("^[a-z][a-z0-9_]*$") ~= nil and not RESERVED[name]
end

--- A name as CQL text: bare when possible, else double-quoted with `"`
-- doubled. Raises on anything but a non-empty string.
-- @tparam string name the name as stored (case-sensitive)
-- @treturn string
function M.quote(name)
  if type(name) ~= "string" or name == "" then
    error("bad argument #1 to 'quote_identifier' (non-empty string expected, got "
      .. (name == "" and "an empty string" or type(name)) .. ")", 2)
  end
  if M.is_bare(name) then return name end
  return '"' .. name:gsub('"', '""') .. '"'
end

return M
