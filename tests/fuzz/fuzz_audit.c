/*
 * fuzz_audit.c - audit_parse_line (what `starflyctl audit verify`,
 * `audit tail` and events.fcgi read): the input as a line, and the input
 * as the hashed part of a line with its correct hash appended, so the
 * fuzzer reaches the JSON checks behind the hash check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check(const char *line, size_t len)
{
	struct audit_line l;
	const char *why = NULL;
	int rc;

	rc = audit_parse_line(line, len, &l, &why);
	if (rc == SF_OK) {
		if (l.obj == NULL || l.seq < 1 || strlen(l.hash) != 64 ||
		    strlen(l.prev) != 64 || l.type == NULL)
			abort();
	} else if (l.obj != NULL || (rc == SF_EPARSE && why == NULL))
		abort();
	audit_line_clear(&l);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	unsigned char md[32];
	char *line;
	size_t i;

	check((const char *)data, size);
	if (size > 70000 || (line = malloc(size + 80)) == NULL)
		return 0;
	memcpy(line, data, size);
	SHA256(data, size, md);
	memcpy(line + size, ",\"hash\":\"", 9);
	for (i = 0; i < 32; i++)
		snprintf(line + size + 9 + 2 * i, 3, "%02x", md[i]);
	memcpy(line + size + 73, "\"}", 2);
	check(line, size + 75);
	free(line);
	return 0;
}
