/* builtins_crypto.c - placeholder table (filled in below). */
#include "policy/rego.h"

const struct builtin bi_crypto[] = {
	{ NULL, 0, NULL, 0 }
};
