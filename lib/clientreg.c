/*
 * clientreg.c - registered OAuth clients and their authentication
 * (RFC 6749 §2.3.1).  Secrets are kept only as SHA-256 digests and
 * compared in constant time.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "starfly.h"

#define CLIENT_MAX	1024

struct client {
	char		*id;
	unsigned char	 digest[SHA256_DIGEST_LENGTH];
	bool		 basic, post;
};

struct clientreg {
	struct client	*v;
	size_t		 n;
};

struct client_conf {
	char		*client_id;
	char		*secret_sha256;
	char		*secret_file;
	char		**auth_methods;
};

static const struct conf_key client_keys[] = {
	{ "client_id", CONF_STR, offsetof(struct client_conf, client_id), 0,
	    255, NULL, true },
	{ "secret_sha256", CONF_STR, offsetof(struct client_conf,
	    secret_sha256), 0, 64, NULL, false },
	{ "secret_file", CONF_PATH, offsetof(struct client_conf, secret_file),
	    0, 0, NULL, false },
	{ "auth_methods", CONF_LIST, offsetof(struct client_conf,
	    auth_methods), 0, 0, NULL, false },
	{ NULL, 0, 0, 0, 0, NULL, false }
};

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
load_one(struct clientreg *r, const char *path, char **errmsg)
{
	struct client_conf cc = { 0 };
	struct client *cl;
	char *secret = NULL;
	size_t len, i;
	int rc;

	if ((rc = conf_parse(path, client_keys, NULL, &cc, errmsg)) != SF_OK)
		goto out;
	rc = SF_ECONF;
	if ((cc.secret_sha256 == NULL) == (cc.secret_file == NULL)) {
		(void)sf_asprintf(errmsg, "%s: give exactly one of "
		    "secret_sha256 and secret_file", path);
		goto out;
	}
	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].id, cc.client_id) == 0) {
			(void)sf_asprintf(errmsg, "%s: client_id %s is "
			    "registered twice", path, cc.client_id);
			goto out;
		}
	if (r->n == CLIENT_MAX) {
		(void)sf_asprintf(errmsg, "%s: too many clients", path);
		goto out;
	}
	cl = &r->v[r->n];
	memset(cl, 0, sizeof(*cl));
	if (cc.secret_sha256 != NULL) {
		if (strlen(cc.secret_sha256) != 64) {
			(void)sf_asprintf(errmsg, "%s: secret_sha256 must be "
			    "64 hex digits", path);
			goto out;
		}
		for (i = 0; i < 32; i++) {
			int hi = hexval(cc.secret_sha256[2 * i]);
			int lo = hexval(cc.secret_sha256[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				(void)sf_asprintf(errmsg, "%s: secret_sha256 "
				    "must be 64 hex digits", path);
				goto out;
			}
			cl->digest[i] = (unsigned char)(hi << 4 | lo);
		}
	} else {
		if (sf_read_file(cc.secret_file, 4096, &secret, &len) !=
		    SF_OK) {
			(void)sf_asprintf(errmsg, "%s: cannot read secret_file "
			    "%s", path, cc.secret_file);
			goto out;
		}
		while (len > 0 && (secret[len - 1] == '\n' ||
		    secret[len - 1] == '\r'))
			len--;
		SHA256((unsigned char *)secret, len, cl->digest);
	}
	cl->basic = cl->post = cc.auth_methods == NULL;
	for (i = 0; cc.auth_methods != NULL && cc.auth_methods[i]; i++) {
		if (strcmp(cc.auth_methods[i], "client_secret_basic") == 0)
			cl->basic = true;
		else if (strcmp(cc.auth_methods[i], "client_secret_post") == 0)
			cl->post = true;
		else {
			(void)sf_asprintf(errmsg, "%s: auth_methods: unknown "
			    "method %s", path, cc.auth_methods[i]);
			goto out;
		}
	}
	if ((cl->id = cc.client_id) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	cc.client_id = NULL;
	r->n++;
	rc = SF_OK;
out:
	sf_strfree_secret(secret);
	conf_free_fields(client_keys, &cc);
	return rc;
}

int
clientreg_load(const struct sf_conf *c, struct clientreg **out,
    char **errmsg)
{
	struct clientreg *r;
	struct dirent **ents = NULL;
	char *dir = NULL, *path = NULL;
	int i, n = 0, rc = SF_OK;

	*out = NULL;
	*errmsg = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->v = calloc(CLIENT_MAX, sizeof(*r->v))) == NULL) {
		free(r);
		return SF_ENOMEM;
	}
	if (sf_asprintf(&dir, "%s/clients.d", c->etc_dir) != SF_OK) {
		rc = SF_ENOMEM;
		goto out;
	}
	n = scandir(dir, &ents, NULL, alphasort);
	for (i = 0; i < n && rc == SF_OK; i++) {
		size_t l = strlen(ents[i]->d_name);

		if (l < 6 || strcmp(ents[i]->d_name + l - 5, ".conf") != 0)
			continue;
		free(path);
		if (sf_asprintf(&path, "%s/%s", dir, ents[i]->d_name) !=
		    SF_OK) {
			rc = SF_ENOMEM;
			break;
		}
		rc = load_one(r, path, errmsg);
	}
out:
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(path);
	free(dir);
	if (rc != SF_OK) {
		clientreg_free(r);
		return rc;
	}
	*out = r;
	return SF_OK;
}

void
clientreg_free(struct clientreg *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->v[i].id);
		OPENSSL_cleanse(r->v[i].digest, sizeof(r->v[i].digest));
	}
	free(r->v);
	free(r);
}

static const struct client *
find(const struct clientreg *r, const char *id)
{
	size_t i;

	for (i = 0; r != NULL && i < r->n; i++)
		if (strcmp(r->v[i].id, id) == 0)
			return &r->v[i];
	return NULL;
}

static bool
secret_ok(const struct client *cl, const char *secret, size_t len)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)secret, len, d);
	return sf_memeq_ct(d, cl->digest, sizeof(d));
}

int
clientreg_authenticate(const struct clientreg *r, bool allow_public,
    const char *auth, const char *body_id, const char *body_secret,
    const char **client_id, const char **why, bool *basic)
{
	unsigned char dec[1024];
	char *id = NULL, *secret = NULL;
	const struct client *cl;
	const char *b64, *colon;
	int n, rc = SF_EDENIED;
	size_t blen, pad = 0;

	*client_id = NULL;
	*why = NULL;
	*basic = false;
	if (auth != NULL && strncasecmp(auth, "Basic ", 6) == 0) {
		*basic = true;
		b64 = auth + 6;
		while (*b64 == ' ')
			b64++;
		blen = strlen(b64);
		if (blen == 0 || blen % 4 != 0 || blen / 4 * 3 >= sizeof(dec)) {
			*why = "malformed HTTP Basic credentials";
			return SF_EDENIED;
		}
		if ((n = EVP_DecodeBlock(dec, (const unsigned char *)b64,
		    (int)blen)) < 0) {
			*why = "malformed HTTP Basic credentials";
			return SF_EDENIED;
		}
		if (blen >= 1 && b64[blen - 1] == '=')
			pad++;
		if (blen >= 2 && b64[blen - 2] == '=')
			pad++;
		n -= (int)pad;
		dec[n] = '\0';
		if ((colon = memchr(dec, ':', (size_t)n)) == NULL) {
			*why = "malformed HTTP Basic credentials";
			goto out;
		}
		/* RFC 6749 §2.3.1: both parts form-urlencoded. */
		if (form_decode((char *)dec, (size_t)(colon - (char *)dec),
		    true, &id) != SF_OK || form_decode(colon + 1,
		    (size_t)(n - (colon + 1 - (char *)dec)), true, &secret) !=
		    SF_OK) {
			*why = "malformed HTTP Basic credentials";
			goto out;
		}
		if (body_id != NULL && strcmp(body_id, id) != 0) {
			*why = "client_id differs from the HTTP Basic client";
			goto out;
		}
		if (body_secret != NULL) {
			*why = "use one client authentication method";
			goto out;
		}
		cl = find(r, id);
		if (cl == NULL || !cl->basic ||
		    !secret_ok(cl, secret, strlen(secret))) {
			*why = "client authentication failed";
			goto out;
		}
		*client_id = cl->id;
		rc = SF_OK;
		goto out;
	}
	if (body_id == NULL) {
		if (body_secret != NULL) {
			*why = "client_secret without client_id";
			return SF_EDENIED;
		}
		return SF_OK;		/* no client named */
	}
	cl = find(r, body_id);
	if (cl == NULL) {
		if (body_secret != NULL) {
			*why = "client authentication failed";
			return SF_EDENIED;
		}
		if (!allow_public) {
			*why = "unknown client";
			return SF_EDENIED;
		}
		*client_id = body_id;	/* a public client */
		return SF_OK;
	}
	if (body_secret == NULL || !cl->post ||
	    !secret_ok(cl, body_secret, strlen(body_secret))) {
		*why = "client authentication failed";
		return SF_EDENIED;
	}
	*client_id = cl->id;
	return SF_OK;
out:
	OPENSSL_cleanse(dec, sizeof(dec));
	free(id);
	sf_strfree_secret(secret);
	return rc;
}
