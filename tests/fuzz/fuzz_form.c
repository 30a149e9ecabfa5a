/* fuzz_form.c - form_parse on arbitrary bodies. */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const rep[] = { "audience", "resource", NULL };
	char *why = NULL;
	json_t *o = NULL;
	int rc;

	rc = form_parse((const char *)data, size, rep, &o, &why);
	if (rc == SF_OK && (o == NULL || why != NULL))
		abort();
	if (rc != SF_OK && (o != NULL || (rc == SF_EINVAL && why == NULL)))
		abort();
	json_decref(o);
	free(why);
	return 0;
}
