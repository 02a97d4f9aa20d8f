#include "cqlua.h"

const char *cqlua_version(void) { return CQLUA_VERSION_STRING; }
