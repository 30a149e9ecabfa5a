/* builtins_misc.c - placeholder table (filled in below). */
#include "policy/rego.h"

const struct builtin bi_misc[] = {
	{ NULL, 0, NULL, 0 }
};
