/* fuzz_path.c - path_canon on arbitrary request targets. */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *why;
	char *s, *out = NULL;

	if ((s = sf_strndup((const char *)data, size)) == NULL)
		return 0;
	if (path_canon(s, &out, &why) == SF_OK) {
		/* A canonical path is stable: canonicalising it again only
		 * fails where decoding produced '%' escapes or dots. */
		if (out[0] != '/' || strstr(out, "//") != NULL)
			abort();
	} else if (out != NULL || why == NULL)
		abort();
	free(out);
	free(s);
	return 0;
}
