/* builtins_time.c - placeholder table (filled in below). */
#include "policy/rego.h"

const struct builtin bi_time[] = {
	{ NULL, 0, NULL, 0 }
};
