/*
 * path.c - the one routing rule for every web server: canonical or
 * reject.  Servers disagree on SCRIPT_NAME/PATH_INFO and some pass raw
 * "//", ".." or encoded separators; the raw request-target (REQUEST_URI,
 * RFC 9112 §3.2) is the only value all of them send alike.  A path that
 * is not already canonical is refused, never normalised, so the program
 * never serves a route other than the one the server chose.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "starfly.h"

#define PATH_MAX_LEN	2048

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
path_canon(const char *uri, char **out, const char **why)
{
	const char *p, *end, *q;
	char *dec = NULL, *d, *seg;
	size_t len;
	int hi, lo;

	*out = NULL;
	*why = NULL;
	if (uri == NULL || *uri == '\0') {
		*why = "empty request path";
		return SF_EINVAL;
	}
	p = uri;
	/* RFC 9112 §3.2.2 absolute-form, as Apache passes it through. */
	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "://") + 3;
		p += strcspn(p, "/?#");
		if (*p != '/') {
			*why = "absolute-form request without a path";
			return SF_EINVAL;
		}
	}
	end = p + strcspn(p, "?");
	len = (size_t)(end - p);
	if (*p != '/') {
		*why = "request path must start with '/'";
		return SF_EINVAL;
	}
	if (len > PATH_MAX_LEN) {
		*why = "request path too long";
		return SF_EINVAL;
	}
	if ((dec = malloc(len + 1)) == NULL)
		return SF_ENOMEM;
	d = dec;
	for (q = p; q < end; q++) {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20 || c == 0x7f) {
			*why = "control character in request path";
			goto bad;
		}
		if (c == '\\') {
			*why = "backslash in request path";
			goto bad;
		}
		if (c == '#') {
			*why = "fragment in request path";
			goto bad;
		}
		if (c == '/' && q + 1 < end && q[1] == '/') {
			*why = "empty segment ('//') in request path";
			goto bad;
		}
		if (c == '%') {
			if (end - q < 3) {
				*why = "truncated percent-escape in request path";
				goto bad;
			}
			if ((hi = hexval(q[1])) < 0 || (lo = hexval(q[2])) < 0) {
				*why = "bad percent-escape in request path";
				goto bad;
			}
			c = (unsigned char)(hi << 4 | lo);
			if (c == '/' || c == '\\' || c == '\0') {
				*why = "encoded '/', '\\' or NUL in request path";
				goto bad;
			}
			if (c < 0x20 || c == 0x7f) {
				*why = "encoded control character in request path";
				goto bad;
			}
			q += 2;
		}
		*d++ = (char)c;
	}
	*d = '\0';
	/* RFC 3986 §3.3 dot-segments, raw or encoded: refused. */
	for (seg = dec + 1; seg != NULL; ) {
		char *next = strchr(seg, '/');
		size_t sl = next ? (size_t)(next - seg) : strlen(seg);

		if ((sl == 1 && seg[0] == '.') ||
		    (sl == 2 && seg[0] == '.' && seg[1] == '.')) {
			*why = "dot-segment in request path";
			goto bad;
		}
		seg = next ? next + 1 : NULL;
	}
	*out = dec;
	return SF_OK;
bad:
	free(dec);
	return SF_EINVAL;
}
