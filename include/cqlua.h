/**
 * @file cqlua.h
 * @brief Public C API of cqlua, a driver for Apache Cassandra.
 *
 * Everything here is a flat C ABI: the same functions serve C applications
 * and the LuaJIT FFI binding (lua/cql/core.lua declares them again with
 * ffi.cdef; keep the two in step).
 */
#ifndef CQLUA_H
#define CQLUA_H

#ifdef __cplusplus
extern "C" {
#endif

/** @return the library version, "MAJOR.MINOR.PATCH". */
const char *cqlua_version(void);

#ifdef __cplusplus
}
#endif

#endif
