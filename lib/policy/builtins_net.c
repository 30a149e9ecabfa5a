/* builtins_net.c - placeholder table (filled in below). */
#include "policy/rego.h"

const struct builtin bi_net[] = {
	{ NULL, 0, NULL, 0 }
};
