/*
 * b64.c - base64url without padding (RFC 4648 §5, RFC 7515 §2).
 *
 * Decoding is strict: only the 64 characters of the URL-safe alphabet,
 * no '=' padding, no whitespace, no length that is 1 mod 4, and the
 * unused low bits of the last character must be zero, so that every
 * byte string has exactly one accepted encoding.
 */
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one alphabet character, or -1. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
b64url_encode(const void *in, size_t len, char **out)
{
	const unsigned char *p = in;
	size_t olen, i, o = 0;
	unsigned int v;
	char *s;

	*out = NULL;
	if (len > (SIZE_MAX / 4) * 3 - 3)
		return SF_ETOOBIG;
	olen = (len / 3) * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
	if ((s = malloc(olen + 1)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i + 3 <= len; i += 3) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8 |
		    p[i + 2];
		s[o++] = b64url_alphabet[v >> 18 & 63];
		s[o++] = b64url_alphabet[v >> 12 & 63];
		s[o++] = b64url_alphabet[v >> 6 & 63];
		s[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (unsigned int)p[i] << 16;
		s[o++] = b64url_alphabet[v >> 18 & 63];
		s[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (unsigned int)p[i] << 16 | (unsigned int)p[i + 1] << 8;
		s[o++] = b64url_alphabet[v >> 18 & 63];
		s[o++] = b64url_alphabet[v >> 12 & 63];
		s[o++] = b64url_alphabet[v >> 6 & 63];
	}
	s[o] = '\0';
	*out = s;
	return SF_OK;
}

int
b64url_decode(const char *in, size_t len, unsigned char **out,
    size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	unsigned char *buf;
	size_t i, o = 0, rem, cap;
	unsigned int acc = 0;
	int v;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (in == NULL && len != 0)
		return SF_EINVAL;
	rem = len % 4;
	if (rem == 1)
		return SF_EINVAL;
	cap = len / 4 * 3 + (rem == 0 ? 0 : rem - 1) + 1;
	if ((buf = malloc(cap)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < len; i++) {
		if ((v = b64url_value(p[i])) < 0)
			goto bad;
		acc = acc << 6 | (unsigned int)v;
		if (i % 4 == 3) {
			buf[o++] = (unsigned char)(acc >> 16);
			buf[o++] = (unsigned char)(acc >> 8);
			buf[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	/* RFC 4648 §3.5: the pad bits of a partial group must be zero. */
	if (rem == 2) {
		if ((acc & 0x0f) != 0)
			goto bad;
		buf[o++] = (unsigned char)(acc >> 4);
	} else if (rem == 3) {
		if ((acc & 0x03) != 0)
			goto bad;
		buf[o++] = (unsigned char)(acc >> 10);
		buf[o++] = (unsigned char)(acc >> 2);
	}
	buf[o] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = o;
	return SF_OK;
bad:
	sf_freezero(buf, cap);
	return SF_EINVAL;
}
