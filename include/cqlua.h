/**
 * @file cqlua.h
 * @brief Public C API of cqlua, a driver for Apache Cassandra.
 *
 * Two layers share this header:
 *
 * - `cqlua_version` is part of the core library (libcqlua), which the LuaJIT
 *   FFI binding loads (lua/cql/core.lua declares it again with ffi.cdef;
 *   keep the two in step).
 * - Everything else is the embedding API, in libcqlua-embed: a C program
 *   drives the driver through opaque handles. A cluster handle owns a
 *   private LuaJIT state running the very same Lua driver (`cql.cluster`),
 *   so settings and policies can be written in Lua (see
 *   cqlua_cluster_load_config).
 *
 * Threading: the API is single-threaded. Every handle created from one
 * cluster must be used by one thread at a time. Nothing runs in the
 * background: the driver's I/O happens while the application waits
 * (cqlua_future_wait, blocking calls) or polls (cqlua_cluster_poll), and
 * future callbacks run then, on that thread.
 *
 * Errors: functions returning `int` return CQLUA_OK (0) or a negative
 * cqlua_error; functions returning a handle return NULL on failure. Either
 * way the failure is also recorded for the calling thread: see
 * cqlua_last_error_message. Every function accepts NULL handles and answers
 * them with CQLUA_ERR_BAD_ARGUMENT.
 *
 * Ownership: every handle returned by a `_new`, `_connect`, `_execute`,
 * `_prepare` or `_get_` function belongs to the caller, who releases it with
 * the matching `_free`. Handles keep what they depend on alive: freeing a
 * cluster while its sessions or results still exist shuts it down, and its
 * Lua state goes when the last of them is freed.
 *
 * Indices (columns, bind markers) start at 0, in messages too.
 */
#ifndef CQLUA_H
#define CQLUA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @return the library version, "MAJOR.MINOR.PATCH". */
const char *cqlua_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/** Outcome codes. 0 is success; errors are negative. */
typedef enum cqlua_error {
  /** Success. */
  CQLUA_OK = 0,
  /** Misuse: a NULL handle, an index out of range, a bad option or value. */
  CQLUA_ERR_BAD_ARGUMENT = -1,
  /** A value does not fit the column's or the marker's type (the message
   *  names the column or the marker). */
  CQLUA_ERR_WRONG_TYPE = -2,
  /** A typed getter was asked for a NULL value. */
  CQLUA_ERR_NULL_VALUE = -3,
  /** No column or bind marker has that name. */
  CQLUA_ERR_NOT_FOUND = -4,
  /** A timed wait expired; the future is still pending and usable. */
  CQLUA_ERR_TIMEOUT = -5,
  /** The future has not completed yet. */
  CQLUA_ERR_PENDING = -6,
  /** The cluster or the session is shut down. */
  CQLUA_ERR_CLOSED = -7,
  /** A configuration file or option failed (Lua error or bad option). */
  CQLUA_ERR_CONFIG = -8,
  /** The server answered with an ERROR message: the name is the seed's
   *  class ("InvalidRequest", "SyntaxException", "Unavailable", ...) and
   *  the server's code is given by cqlua_last_error_server_code /
   *  cqlua_future_server_code. */
  CQLUA_ERR_SERVER = -9,
  /** No host could be reached ("NoHostAvailable"; the message lists each
   *  host's error). */
  CQLUA_ERR_NO_HOST_AVAILABLE = -10,
  /** The request's own timeout passed ("OperationTimedOut"). */
  CQLUA_ERR_OPERATION_TIMED_OUT = -11,
  /** A connection failed or closed under the request ("ConnectionShutdown",
   *  ...). */
  CQLUA_ERR_CONNECTION = -12,
  /** Another driver error (name and message say which). */
  CQLUA_ERR_DRIVER = -13,
  /** Out of memory. */
  CQLUA_ERR_NO_MEMORY = -14,
  /** An unexpected failure inside the driver (a bug: please report the
   *  message). */
  CQLUA_ERR_INTERNAL = -15
} cqlua_error;

/** @return a constant description of an error code ("CQLUA_ERR_TIMEOUT:
 *  ..."); never NULL. */
const char *cqlua_error_string(int code);

/** @return the code of the last failure on the calling thread (not reset by
 *  successful calls), CQLUA_OK if none yet. */
int cqlua_last_error(void);

/** @return the message of the last failure on the calling thread ("" if
 *  none); valid until the next failing call on this thread. */
const char *cqlua_last_error_message(void);

/** @return the error's name: the seed's class name for driver and server
 *  errors ("InvalidRequest", "NoHostAvailable", ...), else a name for the
 *  code ("BadArgument", "WrongType", "NullValue", "NotFound", "Timeout",
 *  "Pending", "Closed", "ConfigError", "NoMemory", "InternalError"); ""
 *  if none. */
const char *cqlua_last_error_name(void);

/** @return the server's error code (e.g. 0x2200 for InvalidRequest) of the
 *  last failure when it was CQLUA_ERR_SERVER, else 0. */
int cqlua_last_error_server_code(void);

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

/** CQL types, with the native protocol's option ids. */
typedef enum cqlua_value_type {
  CQLUA_TYPE_UNKNOWN = -1,       /**< no such column or marker */
  CQLUA_TYPE_CUSTOM = 0x0000,    /**< a custom (Java class) type */
  CQLUA_TYPE_ASCII = 0x0001,     /**< ascii */
  CQLUA_TYPE_BIGINT = 0x0002,    /**< bigint */
  CQLUA_TYPE_BLOB = 0x0003,      /**< blob */
  CQLUA_TYPE_BOOLEAN = 0x0004,   /**< boolean */
  CQLUA_TYPE_COUNTER = 0x0005,   /**< counter */
  CQLUA_TYPE_DECIMAL = 0x0006,   /**< decimal */
  CQLUA_TYPE_DOUBLE = 0x0007,    /**< double */
  CQLUA_TYPE_FLOAT = 0x0008,     /**< float */
  CQLUA_TYPE_INT = 0x0009,       /**< int */
  CQLUA_TYPE_TIMESTAMP = 0x000B, /**< timestamp */
  CQLUA_TYPE_UUID = 0x000C,      /**< uuid */
  CQLUA_TYPE_TEXT = 0x000D,      /**< varchar */
  CQLUA_TYPE_VARINT = 0x000E,    /**< varint */
  CQLUA_TYPE_TIMEUUID = 0x000F,  /**< timeuuid */
  CQLUA_TYPE_INET = 0x0010,      /**< inet */
  CQLUA_TYPE_DATE = 0x0011,      /**< date */
  CQLUA_TYPE_TIME = 0x0012,      /**< time */
  CQLUA_TYPE_SMALLINT = 0x0013,  /**< smallint */
  CQLUA_TYPE_TINYINT = 0x0014,   /**< tinyint */
  CQLUA_TYPE_DURATION = 0x0015,  /**< duration */
  CQLUA_TYPE_LIST = 0x0020,      /**< list<...> */
  CQLUA_TYPE_MAP = 0x0021,       /**< map<..., ...> */
  CQLUA_TYPE_SET = 0x0022,       /**< set<...> */
  CQLUA_TYPE_UDT = 0x0030,       /**< a user-defined type */
  CQLUA_TYPE_TUPLE = 0x0031,     /**< tuple<...> */
  CQLUA_TYPE_VECTOR = 0x0100     /**< vector<..., n> */
} cqlua_value_type;

/** Consistency levels (protocol values). */
typedef enum cqlua_consistency {
  CQLUA_CONSISTENCY_ANY = 0,          /**< ANY (writes only) */
  CQLUA_CONSISTENCY_ONE = 1,          /**< ONE */
  CQLUA_CONSISTENCY_TWO = 2,          /**< TWO */
  CQLUA_CONSISTENCY_THREE = 3,        /**< THREE */
  CQLUA_CONSISTENCY_QUORUM = 4,       /**< QUORUM */
  CQLUA_CONSISTENCY_ALL = 5,          /**< ALL */
  CQLUA_CONSISTENCY_LOCAL_QUORUM = 6, /**< LOCAL_QUORUM */
  CQLUA_CONSISTENCY_EACH_QUORUM = 7,  /**< EACH_QUORUM (writes only) */
  CQLUA_CONSISTENCY_SERIAL = 8,       /**< SERIAL (serial consistency) */
  CQLUA_CONSISTENCY_LOCAL_SERIAL = 9, /**< LOCAL_SERIAL (serial consistency) */
  CQLUA_CONSISTENCY_LOCAL_ONE = 10    /**< LOCAL_ONE (the session default) */
} cqlua_consistency;

/** A UUID as its 16 bytes in network order. */
typedef struct cqlua_uuid {
  uint8_t bytes[16]; /**< big-endian, as on the wire */
} cqlua_uuid;

/** Writes the canonical text form ("xxxxxxxx-xxxx-...", lower case, 36
 *  characters and a NUL) into out. */
void cqlua_uuid_to_string(const cqlua_uuid *uuid, char out[37]);

/** Parses the canonical text form (either case).
 *  @return CQLUA_OK, or CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_uuid_from_string(const char *text, cqlua_uuid *out);

/** Fills out with a random (version 4) UUID from the system's random
 *  source. @return CQLUA_OK, or CQLUA_ERR_INTERNAL when no randomness is
 *  available. */
int cqlua_uuid_random(cqlua_uuid *out);

/* ------------------------------------------------------------------------ */
/* Handles                                                                   */
/* ------------------------------------------------------------------------ */

/** Settings and connections to one Cassandra cluster; owns a LuaJIT state
 *  and an event loop. */
typedef struct cqlua_cluster cqlua_cluster;
/** A session (`cql.cluster` Session): runs statements. */
typedef struct cqlua_session cqlua_session;
/** The outcome of an asynchronous operation. */
typedef struct cqlua_future cqlua_future;
/** A statement with its bound values and options; plain C, reusable. */
typedef struct cqlua_statement cqlua_statement;
/** A prepared statement. */
typedef struct cqlua_prepared cqlua_prepared;
/** A result set and its row cursor; pages are fetched as the cursor
 *  advances. */
typedef struct cqlua_result cqlua_result;

/* ------------------------------------------------------------------------ */
/* Cluster                                                                   */
/* ------------------------------------------------------------------------ */

/** Creates a cluster handle with the default settings (127.0.0.1:9042, no
 *  authentication) and its LuaJIT state. No connection is made yet.
 *
 *  The Lua modules are found through LUA_PATH, then beside the library
 *  (`../share/lua/5.1`, and `../lua` in a build directory of a source
 *  checkout), then in the directory they were installed to.
 *  @return the handle, or NULL (see cqlua_last_error_message). */
cqlua_cluster *cqlua_cluster_new(void);

/** Runs a Lua file that returns a table of `cql.cluster.Cluster` options
 *  and merges them into the cluster's settings, e.g.
 *
 *      return {
 *        contact_points = { "10.0.0.1", "10.0.0.2" }, port = 9042,
 *        auth_provider = require("cql.auth").PlainTextAuthProvider("u", "p"),
 *        connect_timeout = 2,
 *      }
 *
 *  The file runs in the cluster's Lua state (it may `require` the driver's
 *  modules and define policies). The options are checked at once by
 *  building a Cluster from them.
 *  @return CQLUA_OK, CQLUA_ERR_CONFIG (the message says what failed),
 *  CQLUA_ERR_BAD_ARGUMENT, or CQLUA_ERR_CLOSED once connected. */
int cqlua_cluster_load_config(cqlua_cluster *cluster, const char *path);

/** As cqlua_cluster_load_config, with the Lua source text itself. */
int cqlua_cluster_load_config_string(cqlua_cluster *cluster, const char *lua_source);

/** Sets one Cluster option from a Lua expression, e.g.
 *  ("connect_timeout", "2") or ("ssl_options", "{ ca_file = '/etc/ca.pem' }").
 *  @return as cqlua_cluster_load_config. */
int cqlua_cluster_set_option(cqlua_cluster *cluster, const char *name, const char *lua_expression);

/** Sets the contact points: addresses separated by commas
 *  ("10.0.0.1,10.0.0.2"). @return as cqlua_cluster_load_config. */
int cqlua_cluster_set_contact_points(cqlua_cluster *cluster, const char *addresses);

/** Sets the CQL port (1-65535). @return as cqlua_cluster_load_config. */
int cqlua_cluster_set_port(cqlua_cluster *cluster, int port);

/** Authenticates with a PlainTextAuthProvider (username, password).
 *  @return as cqlua_cluster_load_config. */
int cqlua_cluster_set_credentials(cqlua_cluster *cluster, const char *username,
                                  const char *password);

/** Connects a session, optionally using keyspace (NULL for none), and
 *  waits for it (running the loop, so callbacks may run).
 *  @param[out] session the new session on success (caller frees), NULL
 *  on failure
 *  @return CQLUA_OK, or an error (CQLUA_ERR_NO_HOST_AVAILABLE when no
 *  contact point answered; CQLUA_ERR_CONFIG for bad settings). */
int cqlua_cluster_connect(cqlua_cluster *cluster, const char *keyspace, cqlua_session **session);

/** Starts connecting a session; the future's value is taken with
 *  cqlua_future_get_session. @return the future, or NULL. */
cqlua_future *cqlua_cluster_connect_async(cqlua_cluster *cluster, const char *keyspace);

/** Runs the event loop once: does the I/O that is ready, waiting at most
 *  timeout_us microseconds for some (0: do not wait), then runs the
 *  callbacks of the futures that completed.
 *  @return how many callbacks ran (>= 0), or an error. */
int cqlua_cluster_poll(cqlua_cluster *cluster, int64_t timeout_us);

/** Shuts down every session of the cluster: pending requests fail with an
 *  error, later calls get CQLUA_ERR_CLOSED. Idempotent.
 *  @return CQLUA_OK or CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_cluster_shutdown(cqlua_cluster *cluster);

/** Shuts the cluster down and releases the handle. The LuaJIT state is
 *  closed once every handle made from this cluster is freed too. NULL is
 *  ignored. */
void cqlua_cluster_free(cqlua_cluster *cluster);

/* ------------------------------------------------------------------------ */
/* Session                                                                   */
/* ------------------------------------------------------------------------ */

/** Starts running a statement. Values are converted and checked now: a
 *  value the statement cannot take fails here, naming the marker.
 *  @return the future of its result (see cqlua_future_get_result), or NULL
 *  (CQLUA_ERR_BAD_ARGUMENT, CQLUA_ERR_WRONG_TYPE, CQLUA_ERR_CLOSED). */
cqlua_future *cqlua_session_execute(cqlua_session *session, const cqlua_statement *statement);

/** Runs CQL text without parameters and waits for it.
 *  @param[out] result the result (caller frees; NULL on failure), or NULL
 *  to discard it
 *  @return CQLUA_OK or an error (e.g. CQLUA_ERR_SERVER with the name
 *  "InvalidRequest" or "SyntaxException"). */
int cqlua_session_query(cqlua_session *session, const char *cql, cqlua_result **result);

/** Starts preparing a statement (`?` or `:name` markers); the future's
 *  value is taken with cqlua_future_get_prepared. @return the future, or
 *  NULL. */
cqlua_future *cqlua_session_prepare(cqlua_session *session, const char *cql);

/** Shuts the session down (pending requests fail; later calls get
 *  CQLUA_ERR_CLOSED). Idempotent. @return CQLUA_OK or
 *  CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_session_close(cqlua_session *session);

/** Closes the session and releases the handle. NULL is ignored. */
void cqlua_session_free(cqlua_session *session);

/* ------------------------------------------------------------------------ */
/* Futures                                                                   */
/* ------------------------------------------------------------------------ */

/** A completion callback: runs once, on the thread driving the loop (inside
 *  cqlua_future_wait*, cqlua_cluster_poll or any other call that waits),
 *  never from a foreign thread. The future stays owned by the application;
 *  the callback may use the API (take the result, free the future, start
 *  other requests, even wait). */
typedef void (*cqlua_future_callback)(cqlua_future *future, void *data);

/** Waits until the future completes, running the loop meanwhile.
 *  @return the outcome: CQLUA_OK, or the operation's error (also recorded
 *  as the thread's last error). */
int cqlua_future_wait(cqlua_future *future);

/** Waits at most timeout_us microseconds.
 *  @return the outcome as cqlua_future_wait, or CQLUA_ERR_TIMEOUT when the
 *  time passed first (the operation goes on; wait again or free it). */
int cqlua_future_wait_timed(cqlua_future *future, int64_t timeout_us);

/** @return 1 when the future has completed, 0 while pending,
 *  CQLUA_ERR_BAD_ARGUMENT for NULL. Does not run the loop. */
int cqlua_future_is_ready(const cqlua_future *future);

/** Sets the callback (replacing none: one per future). If the future has
 *  already completed, the callback runs before this function returns.
 *  @return CQLUA_OK, CQLUA_ERR_BAD_ARGUMENT (NULL future or callback, or a
 *  callback already set). */
int cqlua_future_set_callback(cqlua_future *future, cqlua_future_callback callback, void *data);

/** @return the outcome of a completed future (CQLUA_OK or its error),
 *  CQLUA_ERR_PENDING while pending. Does not run the loop. */
int cqlua_future_error_code(const cqlua_future *future);

/** @return the error's name (the seed's class name, e.g. "InvalidRequest"),
 *  "" when the future succeeded or is pending. Valid as long as the
 *  future. */
const char *cqlua_future_error_name(const cqlua_future *future);

/** @return the error's message ("" when none); valid as long as the
 *  future. */
const char *cqlua_future_error_message(const cqlua_future *future);

/** @return the server's error code when the error is CQLUA_ERR_SERVER,
 *  else 0. */
int cqlua_future_server_code(const cqlua_future *future);

/** Takes the result of an execute or query future (waiting if needed).
 *  A future's result can be taken once.
 *  @param[out] result the result (caller frees); set to NULL on failure
 *  @return CQLUA_OK, the operation's error, or CQLUA_ERR_BAD_ARGUMENT
 *  (not a result future, already taken). */
int cqlua_future_get_result(cqlua_future *future, cqlua_result **result);

/** Takes the session of a connect future (waiting if needed), once.
 *  @return as cqlua_future_get_result. */
int cqlua_future_get_session(cqlua_future *future, cqlua_session **session);

/** Takes the prepared statement of a prepare future (waiting if needed),
 *  once. @return as cqlua_future_get_result. */
int cqlua_future_get_prepared(cqlua_future *future, cqlua_prepared **prepared);

/** Releases the future; a pending operation goes on, its callback is not
 *  called. NULL is ignored. */
void cqlua_future_free(cqlua_future *future);

/* ------------------------------------------------------------------------ */
/* Statements and binding                                                    */
/* ------------------------------------------------------------------------ */

/** A simple statement: CQL text whose `%s` (positional) or `%(name)s`
 *  (named) markers are replaced by the bound values, encoded client-side
 *  as safely quoted CQL literals (`%%` is a percent sign).
 *  @return the statement (caller frees), or NULL. */
cqlua_statement *cqlua_statement_new(const char *cql);

/** A statement bound to a prepared statement's markers. Values are checked
 *  against the markers' types as they are bound, and the statement keeps
 *  the prepared statement alive. Unbound markers are sent as NULL.
 *  @return the statement (caller frees), or NULL. */
cqlua_statement *cqlua_prepared_bind(cqlua_prepared *prepared);

/** Releases the statement. NULL is ignored. */
void cqlua_statement_free(cqlua_statement *statement);

/** Forgets every bound value (keeps the options). @return CQLUA_OK or
 *  CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_statement_clear(cqlua_statement *statement);

/** Sets the consistency level. @return CQLUA_OK or CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_statement_set_consistency(cqlua_statement *statement, cqlua_consistency consistency);

/** Sets the serial consistency level (SERIAL or LOCAL_SERIAL) of
 *  conditional updates. @return CQLUA_OK or CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_statement_set_serial_consistency(cqlua_statement *statement,
                                           cqlua_consistency consistency);

/** Sets the page size (rows per page, > 0); results are paged
 *  transparently by cqlua_result_next. @return CQLUA_OK or
 *  CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_statement_set_page_size(cqlua_statement *statement, int32_t rows);

/** Sets the request timeout in milliseconds (> 0; default: the session's,
 *  10 s); an expired request fails with CQLUA_ERR_OPERATION_TIMED_OUT.
 *  @return CQLUA_OK or CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_statement_set_timeout(cqlua_statement *statement, int64_t timeout_ms);

/** Resumes paging where a previous result's page ended (bytes from
 *  cqlua_result_paging_state; copied). NULL clears it.
 *  @return CQLUA_OK or CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_statement_set_paging_state(cqlua_statement *statement, const void *state, size_t len);

/* Binding. Every value can be bound by 0-based index or by name (a
 * prepared statement's marker name, or the name of a `%(name)s` marker).
 * For a prepared statement the C type must suit the marker's CQL type,
 * else CQLUA_ERR_WRONG_TYPE names the marker; an unknown name gives
 * CQLUA_ERR_NOT_FOUND, an index past the markers CQLUA_ERR_BAD_ARGUMENT.
 * Binding again replaces the value. Strings and bytes are copied. Each
 * returns CQLUA_OK or an error. */

/** Binds NULL (any type). */
int cqlua_statement_bind_null(cqlua_statement *statement, size_t index);
/** Binds NULL by name. */
int cqlua_statement_bind_null_by_name(cqlua_statement *statement, const char *name);
/** Leaves a prepared statement's marker unset (protocol v4+: the column
 *  keeps its value). */
int cqlua_statement_bind_unset(cqlua_statement *statement, size_t index);
/** Leaves a marker unset, by name. */
int cqlua_statement_bind_unset_by_name(cqlua_statement *statement, const char *name);
/** Binds an int32 (int; also smallint and tinyint when in range; bigint,
 *  counter, varint). */
int cqlua_statement_bind_int32(cqlua_statement *statement, size_t index, int32_t value);
/** Binds an int32 by name. */
int cqlua_statement_bind_int32_by_name(cqlua_statement *statement, const char *name, int32_t value);
/** Binds an int64 (bigint, counter, timestamp in milliseconds, varint;
 *  also int, smallint, tinyint when in range). */
int cqlua_statement_bind_int64(cqlua_statement *statement, size_t index, int64_t value);
/** Binds an int64 by name. */
int cqlua_statement_bind_int64_by_name(cqlua_statement *statement, const char *name, int64_t value);
/** Binds a double (double, float). */
int cqlua_statement_bind_double(cqlua_statement *statement, size_t index, double value);
/** Binds a double by name. */
int cqlua_statement_bind_double_by_name(cqlua_statement *statement, const char *name, double value);
/** Binds a float (float, double). */
int cqlua_statement_bind_float(cqlua_statement *statement, size_t index, float value);
/** Binds a float by name. */
int cqlua_statement_bind_float_by_name(cqlua_statement *statement, const char *name, float value);
/** Binds a boolean (non-zero is true). */
int cqlua_statement_bind_bool(cqlua_statement *statement, size_t index, int value);
/** Binds a boolean by name. */
int cqlua_statement_bind_bool_by_name(cqlua_statement *statement, const char *name, int value);
/** Binds a NUL-terminated UTF-8 string (text, varchar, ascii). */
int cqlua_statement_bind_string(cqlua_statement *statement, size_t index, const char *value);
/** Binds a string by name. */
int cqlua_statement_bind_string_by_name(cqlua_statement *statement, const char *name,
                                        const char *value);
/** Binds len bytes of a string (may hold NULs). */
int cqlua_statement_bind_string_n(cqlua_statement *statement, size_t index, const char *value,
                                  size_t len);
/** Binds len bytes of a string, by name. */
int cqlua_statement_bind_string_n_by_name(cqlua_statement *statement, const char *name,
                                          const char *value, size_t len);
/** Binds bytes (blob). */
int cqlua_statement_bind_bytes(cqlua_statement *statement, size_t index, const void *value,
                               size_t len);
/** Binds bytes by name. */
int cqlua_statement_bind_bytes_by_name(cqlua_statement *statement, const char *name,
                                       const void *value, size_t len);
/** Binds a UUID (uuid, timeuuid). */
int cqlua_statement_bind_uuid(cqlua_statement *statement, size_t index, cqlua_uuid value);
/** Binds a UUID by name. */
int cqlua_statement_bind_uuid_by_name(cqlua_statement *statement, const char *name,
                                      cqlua_uuid value);
/** Binds any type from a Lua expression evaluated in the cluster's state,
 *  with `cql` and `util` (cql.util) in scope: e.g. "{1, 2, 3}" for a
 *  list<int>, "{a = 1}" for a map, "'2024-05-01'" for a date,
 *  "util.Decimal('1.25')", "'::1'" for an inet, "util.uuid4()". See the
 *  value mapping in lua/cql/codec.lua. For a prepared statement the value
 *  is checked against the marker's type when bound (evaluated then);
 *  for a simple statement, when executed. */
int cqlua_statement_bind_lua(cqlua_statement *statement, size_t index, const char *expression);
/** Binds a Lua expression by name. */
int cqlua_statement_bind_lua_by_name(cqlua_statement *statement, const char *name,
                                     const char *expression);

/* ------------------------------------------------------------------------ */
/* Prepared statements                                                       */
/* ------------------------------------------------------------------------ */

/** @return how many bind markers the statement has (0 for NULL). */
size_t cqlua_prepared_marker_count(const cqlua_prepared *prepared);

/** @return the name of marker `index` (the column it binds, or the
 *  `:name`), or NULL when out of range; valid as long as the handle. */
const char *cqlua_prepared_marker_name(const cqlua_prepared *prepared, size_t index);

/** @return the type of marker `index`, CQLUA_TYPE_UNKNOWN when out of
 *  range. */
cqlua_value_type cqlua_prepared_marker_type(const cqlua_prepared *prepared, size_t index);

/** Releases the handle (statements bound from it keep it alive). NULL is
 *  ignored. */
void cqlua_prepared_free(cqlua_prepared *prepared);

/* ------------------------------------------------------------------------ */
/* Results                                                                   */
/* ------------------------------------------------------------------------ */

/** @return the number of columns (0 for statements without rows, or
 *  NULL). */
size_t cqlua_result_column_count(const cqlua_result *result);

/** @return the name of column `index`, NULL when out of range; valid as
 *  long as the result. */
const char *cqlua_result_column_name(const cqlua_result *result, size_t index);

/** @return the index of the first column called `name`, or
 *  CQLUA_ERR_NOT_FOUND / CQLUA_ERR_BAD_ARGUMENT. */
int cqlua_result_column_index(const cqlua_result *result, const char *name);

/** @return the type of column `index`, CQLUA_TYPE_UNKNOWN when out of
 *  range. */
cqlua_value_type cqlua_result_column_type(const cqlua_result *result, size_t index);

/** @return the CQL spelling of column `index`'s type ("map<text, int>"),
 *  NULL when out of range; valid as long as the result. */
const char *cqlua_result_column_type_name(const cqlua_result *result, size_t index);

/** Moves to the next row, fetching the next page from the server when the
 *  current one is exhausted (waiting, so callbacks may run meanwhile).
 *  @return 1 on a row, 0 after the last row, or an error (the page fetch
 *  failed; the cursor stays at the end). */
int cqlua_result_next(cqlua_result *result);

/** @return the number of rows in the current page. */
size_t cqlua_result_page_row_count(const cqlua_result *result);

/** @return 1 when more pages remain on the server, else 0. */
int cqlua_result_has_more_pages(const cqlua_result *result);

/** The paging state after the current page (to resume later with
 *  cqlua_statement_set_paging_state).
 *  @param[out] len its length (0 when there is no more page)
 *  @return the bytes (NULL when none); valid until the next page. */
const void *cqlua_result_paging_state(const cqlua_result *result, size_t *len);

/* Getters read column `index` of the current row (after cqlua_result_next
 * returned 1). They return CQLUA_OK; CQLUA_ERR_NULL_VALUE when the value is
 * NULL; CQLUA_ERR_WRONG_TYPE when the column's type does not convert
 * (the message names the column and its type); CQLUA_ERR_BAD_ARGUMENT
 * without a current row, for an index out of range or NULL pointers.
 * Pointers into a row stay valid until the cursor leaves the page (the
 * next call to cqlua_result_next) or the result is freed. */

/** @return 1 when the value is NULL, 0 if not, or an error. */
int cqlua_result_is_null(const cqlua_result *result, size_t index);
/** Reads int, smallint or tinyint. */
int cqlua_result_get_int32(const cqlua_result *result, size_t index, int32_t *out);
/** Reads bigint, counter, int, smallint, tinyint, timestamp (ms since the
 *  epoch), time (ns since midnight) or date (days since the epoch). */
int cqlua_result_get_int64(const cqlua_result *result, size_t index, int64_t *out);
/** Reads double or float. */
int cqlua_result_get_double(const cqlua_result *result, size_t index, double *out);
/** Reads float. */
int cqlua_result_get_float(const cqlua_result *result, size_t index, float *out);
/** Reads boolean (1 or 0). */
int cqlua_result_get_bool(const cqlua_result *result, size_t index, int *out);
/** Reads text, varchar or ascii: a pointer into the page (NOT
 *  NUL-terminated) and its length. */
int cqlua_result_get_string(const cqlua_result *result, size_t index, const char **out,
                            size_t *len);
/** Reads blob (also text, ascii, custom) as raw bytes. */
int cqlua_result_get_bytes(const cqlua_result *result, size_t index, const uint8_t **out,
                           size_t *len);
/** Reads uuid or timeuuid. */
int cqlua_result_get_uuid(const cqlua_result *result, size_t index, cqlua_uuid *out);
/** Reads any type as NUL-terminated text: text as is, other types as CQL
 *  literals (numbers, 'quoted' dates, [lists], {maps}, UUIDs, ...). The
 *  text lives in the result until the next call to this function. */
int cqlua_result_get_text(cqlua_result *result, size_t index, const char **out);

/** Releases the result. NULL is ignored. */
void cqlua_result_free(cqlua_result *result);

#ifdef __cplusplus
}
#endif

#endif
