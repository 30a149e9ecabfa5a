/*
 * fuzz_issuerconf.c - one issuers.d file (issuer_parse_buf: the
 * conf_parse table plus the checks of every key and their combinations)
 * on arbitrary bytes.  Invariants: no crash or leak; a refusal says why;
 * an accepted file has token types, a valid trust domain and exactly one
 * key source.
 */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"
#include "cred_int.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct sf_conf c = { 0 };
	struct issuer is;
	char *err = NULL;
	size_t i, n = 0;
	int rc;

	c.issuer = "https://starfly.fuzz";
	c.trust_domain = "starfly.fuzz";
	memset(&is, 0, sizeof(is));
	rc = issuer_parse_buf(&c, "fuzz.conf", "fuzz", (const char *)data,
	    size, "/etc/starfly/issuers.d", &is, &err);
	if (rc == SF_OK) {
		for (i = 0; i < KS_COUNT; i++)
			if (is.src[i] != NULL)
				n++;
		if (err != NULL || n != 1 || is.types == 0 ||
		    is.type_list[0] == NULL || is.algs == 0 ||
		    !cred_td_ok(is.trust_domain, strlen(is.trust_domain)) ||
		    (is.iss == NULL && is.kind != IK_SPIFFE))
			abort();
	} else if (rc != SF_ENOMEM && err == NULL)
		abort();
	free(err);
	issuer_clear(&is);
	return 0;
}
