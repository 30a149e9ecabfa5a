/*
 * fuzz_client.c - the RFC 8693 client's parsers on arbitrary input: the
 * first byte picks the configuration file (sections and defaults), a
 * token endpoint answer (its second byte picks the HTTP status) or
 * RFC 8414 metadata.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

int	LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const long statuses[] = { 200, 201, 204, 302, 400, 401, 404, 500,
    502, 503 };

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct client *cl = NULL;
	struct client_token *t = NULL;
	struct client_error err = { 0 };
	const char *body;
	char *msg = NULL, *ep = NULL;
	size_t len;
	long st;
	int rc;

	if (size < 2)
		return 0;
	body = (const char *)data + 2;
	len = size - 2;
	switch (data[0] % 3) {
	case 0:
		if (client_new(&cl) != SF_OK)
			abort();
		rc = client_load_buf(cl, "fuzz.conf", body, len, "/base", &msg);
		if (rc == SF_ECONF && msg == NULL)
			abort();
		if (rc == SF_OK && client_count(cl) == 0)
			abort();
		free(msg);
		client_free(cl);
		break;
	case 1:
		st = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
		rc = client_parse_response(st, data[1] & 0x80 ? "text/html" :
		    "application/json", body, len, &t, &err);
		if ((rc == SF_OK) != (t != NULL) || (rc != SF_OK &&
		    (err.message == NULL || err.kind == CLIENT_ERR_NONE)))
			abort();
		if (t != NULL && (t->access_token[0] == '\0' ||
		    strpbrk(t->access_token, " \r\n\t") != NULL))
			abort();
		client_token_free(t);
		client_error_clear(&err);
		break;
	default:
		rc = client_parse_metadata("https://as.example/t1", data[1] & 1,
		    body, len, &ep, &err);
		if ((rc == SF_OK) != (ep != NULL))
			abort();
		free(ep);
		client_error_clear(&err);
		break;
	}
	return 0;
}
