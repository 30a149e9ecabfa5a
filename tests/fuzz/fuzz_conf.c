/* fuzz_conf.c - the configuration parser on arbitrary files. */
#include <stddef.h>
#include <stdlib.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct fz {
	char		*s, *p, *u, **l;
	long long	 i;
	bool		 b;
	int		 e;
};
static const char *const ch[] = { "a", "bb", NULL };
static const struct conf_key keys[] = {
	{ "s", CONF_STR, offsetof(struct fz, s), 0, 64, NULL, false },
	{ "p", CONF_PATH, offsetof(struct fz, p), 0, 0, NULL, false },
	{ "u", CONF_URL, offsetof(struct fz, u), 0, 0, NULL, false },
	{ "l", CONF_LIST, offsetof(struct fz, l), 0, 0, NULL, false },
	{ "i", CONF_INT, offsetof(struct fz, i), -5, 5000, NULL, false },
	{ "b", CONF_BOOL, offsetof(struct fz, b), 0, 0, NULL, false },
	{ "e", CONF_ENUM, offsetof(struct fz, e), 0, 0, ch, false },
	{ NULL, 0, 0, 0, 0, NULL, false }
};

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct fz f = { 0 };
	char *err = NULL;
	int rc;

	rc = conf_parse_buf("fuzz.conf", (const char *)data, size, keys,
	    "/base", &f, &err);
	if (rc == SF_ECONF && err == NULL)
		abort();
	free(err);
	conf_free_fields(keys, &f);
	return 0;
}
