/* test_b64.c - base64url encode and strict decode (RFC 4648 §5). */
#include <string.h>

#include "starfly.h"
#include "t.h"

/* Decode must fail with SF_EINVAL. */
static int
refused(const char *s)
{
	unsigned char *out = NULL;
	size_t len = 99;
	int rc, ok;

	rc = b64url_decode(s, strlen(s), &out, &len);
	ok = rc == SF_EINVAL && out == NULL && len == 0;
	free(out);
	return ok;
}

static void
test_rfc4648_vectors(void)
{
	/* RFC 4648 §10 test vectors (no padding in base64url). */
	static const char *const plain[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
	    "Zm9vYmE", "Zm9vYmFy" };
	unsigned char *dec;
	char *s;
	size_t i, len;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		T_OK(b64url_encode(plain[i], strlen(plain[i]), &s));
		T_EQ_STR(s, enc[i]);
		free(s);
		T_OK(b64url_decode(enc[i], strlen(enc[i]), &dec, &len));
		T(len == strlen(plain[i]));
		T(memcmp(dec, plain[i], len) == 0);
		T(dec[len] == '\0');
		free(dec);
	}
}

static void
test_url_alphabet(void)
{
	static const unsigned char b[] = { 0xfb, 0xff, 0xbf };
	unsigned char *dec;
	size_t len;
	char *s;

	T_OK(b64url_encode(b, sizeof(b), &s));
	T_EQ_STR(s, "-_-_");
	T_OK(b64url_decode(s, strlen(s), &dec, &len));
	T(len == 3 && memcmp(dec, b, 3) == 0);
	free(dec);
	free(s);
	/* The standard alphabet's + and / are not base64url. */
	T(refused("+/+/"));
}

static void
test_round_trip_all_lengths(void)
{
	unsigned char buf[300], *dec;
	size_t n, len;
	char *s;

	for (n = 0; n < sizeof(buf); n++)
		buf[n] = (unsigned char)(n * 37 + 11);
	for (n = 0; n <= sizeof(buf); n++) {
		T_OK(b64url_encode(buf, n, &s));
		T(strlen(s) == (n * 4 + 2) / 3);
		T(strchr(s, '=') == NULL);
		T_OK(b64url_decode(s, strlen(s), &dec, &len));
		T(len == n && memcmp(dec, buf, n) == 0);
		free(dec);
		free(s);
	}
}

static void
test_padding_refused(void)
{
	T(refused("Zg=="));
	T(refused("Zm8="));
	T(refused("Zg="));
	T(refused("===="));
}

static void
test_whitespace_and_junk_refused(void)
{
	T(refused("Zm9v Yg"));
	T(refused("Zm9v\nYg"));
	T(refused(" Zm9v"));
	T(refused("Zm9v\t"));
	T(refused("Zm.v"));
	T(refused("Zm9\x80"));
}

static void
test_embedded_nul_refused(void)
{
	unsigned char *dec = NULL;
	size_t len;

	T(b64url_decode("Zm\0v", 4, &dec, &len) == SF_EINVAL && dec == NULL);
}

static void
test_bad_length_refused(void)
{
	/* A single trailing character carries only 6 bits. */
	T(refused("Z"));
	T(refused("Zm9vY"));
}

static void
test_noncanonical_bits_refused(void)
{
	/* "Zg" is 'f'; "Zh" has a nonzero unused low bit. */
	T(refused("Zh"));
	T(refused("Zm9"));	/* "fo" is Zm8; Zm9 sets an unused bit */
	T(refused("Zm/"));
	T(!refused("Zm8"));
}

static void
test_empty(void)
{
	unsigned char *dec;
	size_t len = 5;
	char *s;

	T_OK(b64url_decode("", 0, &dec, &len));
	T(len == 0 && dec != NULL && dec[0] == '\0');
	free(dec);
	T_OK(b64url_encode(NULL, 0, &s));
	T_EQ_STR(s, "");
	free(s);
}

int
main(void)
{
	t_prog = "b64";
	RUN(test_rfc4648_vectors);
	RUN(test_url_alphabet);
	RUN(test_round_trip_all_lengths);
	RUN(test_padding_refused);
	RUN(test_whitespace_and_junk_refused);
	RUN(test_embedded_nul_refused);
	RUN(test_bad_length_refused);
	RUN(test_noncanonical_bits_refused);
	RUN(test_empty);
	return T_DONE();
}
