/* Layout facts for the transport's FFI declarations (see src/core/abi.c,
 * which covers the core; the core must not depend on the transport). */
#include <stddef.h>
#include <string.h>

#include "tls.h"
#include "uv_io.h"

size_t cqlua_transport_abi_sizeof(const char *name);

size_t cqlua_transport_abi_sizeof(const char *name) {
  static const struct {
    const char *name;
    size_t value;
  } facts[] = {
      {"cq_tls_config", sizeof(cq_tls_config)},
      {"cq_tls_config.no_hostname_check", offsetof(cq_tls_config, no_hostname_check)},
      {"cqlua_io_event", sizeof(cqlua_io_event)},
      {"cqlua_io_event.user_id", offsetof(cqlua_io_event, user_id)},
      {"cqlua_io_event.ev", offsetof(cqlua_io_event, ev)},
  };
  if (!name) return 0;
  for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
    if (strcmp(facts[i].name, name) == 0) return facts[i].value;
  return 0;
}
