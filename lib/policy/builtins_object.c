/* builtins_object.c - placeholder table (filled in below). */
#include "policy/rego.h"

const struct builtin bi_object[] = {
	{ NULL, 0, NULL, 0 }
};
