/*
 * form.c - application/x-www-form-urlencoded (WHATWG URL §5.1, as
 * RFC 6749 Appendix B uses it), strict: a '%' must start a valid escape,
 * decoded bytes must be UTF-8 without NUL, and a name may appear once
 * unless the caller lists it as repeatable (RFC 8693 §2.1: audience and
 * resource).
 */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

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

/* Decode into a new buffer; *outlen counts decoded bytes (NULs too). */
static int
decode(const char *s, size_t len, bool plus, char **out, size_t *outlen)
{
	char *buf, *d;
	size_t i;
	int hi, lo;

	*out = NULL;
	*outlen = 0;
	if ((buf = malloc(len + 1)) == NULL)
		return SF_ENOMEM;
	d = buf;
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3)
				goto bad;
			if ((hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				goto bad;
			*d++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus)
			*d++ = ' ';
		else
			*d++ = s[i];
	}
	*d = '\0';
	*out = buf;
	*outlen = (size_t)(d - buf);
	return SF_OK;
bad:
	free(buf);
	return SF_EINVAL;
}

int
form_decode(const char *s, size_t len, bool plus, char **out)
{
	size_t n;

	return decode(s, len, plus, out, &n);
}

/* Decoded text must be UTF-8 without NUL: jansson checks the UTF-8. */
static json_t *
text_or_null(const char *s, size_t n)
{
	if (memchr(s, '\0', n) != NULL)
		return NULL;
	return json_stringn(s, n);
}

static bool
is_repeatable(const char *name, const char *const *repeatable)
{
	for (; repeatable != NULL && *repeatable != NULL; repeatable++)
		if (strcmp(name, *repeatable) == 0)
			return true;
	return false;
}

int
form_parse(const char *buf, size_t len, const char *const *repeatable,
    json_t **out, char **why)
{
	json_t *obj = NULL, *s, *cur, *ns;
	char *name = NULL, *value = NULL;
	size_t nlen, vlen;
	const char *p = buf, *end = buf + len, *amp, *eq;
	int rc = SF_EINVAL;

	*out = NULL;
	*why = NULL;
	if ((obj = json_object()) == NULL)
		return SF_ENOMEM;
	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p) {		/* empty pair: skipped (WHATWG) */
			p++;
			continue;
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			eq = amp;
		if (decode(p, (size_t)(eq - p), true, &name, &nlen) != SF_OK) {
			(void)sf_asprintf(why, "malformed percent-escape in a "
			    "form parameter name");
			goto out;
		}
		if (eq < amp)
			rc = decode(eq + 1, (size_t)(amp - eq - 1), true,
			    &value, &vlen);
		else
			rc = decode("", 0, true, &value, &vlen);
		if (rc != SF_OK) {
			rc = SF_EINVAL;
			(void)sf_asprintf(why, "malformed percent-escape in "
			    "form parameter '%s'", name);
			goto out;
		}
		rc = SF_EINVAL;
		if (nlen == 0) {
			(void)sf_asprintf(why, "form parameter without a name");
			goto out;
		}
		if ((ns = text_or_null(name, nlen)) == NULL) {
			(void)sf_asprintf(why, "form parameter name is not "
			    "valid UTF-8 text");
			goto out;
		}
		json_decref(ns);
		if ((s = text_or_null(value, vlen)) == NULL) {
			(void)sf_asprintf(why, "form parameter '%s' is not "
			    "valid UTF-8 text", name);
			goto out;
		}
		cur = json_object_get(obj, name);
		if (is_repeatable(name, repeatable)) {
			if (cur == NULL) {
				cur = json_array();
				if (cur == NULL || json_object_set_new(obj,
				    name, cur) != 0) {
					json_decref(s);
					rc = SF_ENOMEM;
					goto out;
				}
			}
			if (json_array_append_new(cur, s) != 0) {
				rc = SF_ENOMEM;
				goto out;
			}
		} else {
			if (cur != NULL) {
				json_decref(s);
				(void)sf_asprintf(why, "form parameter '%s' is "
				    "repeated", name);
				goto out;
			}
			if (json_object_set_new(obj, name, s) != 0) {
				rc = SF_ENOMEM;
				goto out;
			}
		}
		free(name);
		free(value);
		name = value = NULL;
		p = amp + 1;
	}
	*out = obj;
	obj = NULL;
	rc = SF_OK;
out:
	free(name);
	free(value);
	json_decref(obj);
	return rc;
}
