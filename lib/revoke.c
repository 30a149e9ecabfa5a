/*
 * revoke.c - the revocation index: an open-addressing hash table of
 * "kind:id" strings, built from the store's "revoked" namespace.
 * Lookups hash once and compare in place: no allocation, no system call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

struct revoke_entry {
	char		*key;		/* "sub:<id>" or "jti:<id>" */
	char		*reason;
	uint64_t	 hash;
	int64_t		 time;
	int64_t		 expires;	/* 0: never */
};

struct revoke_index {
	struct revoke_entry	*slots;
	size_t			 cap;	/* power of two */
	size_t			 count;
	size_t			 bytes;
};

/* FNV-1a over "kind:id", 64-bit. */
static uint64_t
hash_key(const char *kind, const char *id)
{
	uint64_t h = 1469598103934665603ull;
	const unsigned char *p;

	for (p = (const unsigned char *)kind; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	h = (h ^ ':') * 1099511628211ull;
	for (p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static bool
key_is(const char *key, const char *kind, const char *id)
{
	size_t kl = strlen(kind);

	return strncmp(key, kind, kl) == 0 && key[kl] == ':' &&
	    strcmp(key + kl + 1, id) == 0;
}

int
revoke_new(struct revoke_index **out)
{
	struct revoke_index *ix;

	*out = NULL;
	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return SF_ENOMEM;
	ix->cap = 64;
	if ((ix->slots = calloc(ix->cap, sizeof(*ix->slots))) == NULL) {
		free(ix);
		return SF_ENOMEM;
	}
	*out = ix;
	return SF_OK;
}

void
revoke_free(struct revoke_index *ix)
{
	size_t i;

	if (ix == NULL)
		return;
	for (i = 0; i < ix->cap; i++) {
		free(ix->slots[i].key);
		free(ix->slots[i].reason);
	}
	free(ix->slots);
	free(ix);
}

size_t
revoke_count(const struct revoke_index *ix)
{
	return ix != NULL ? ix->count : 0;
}

size_t
revoke_memory(const struct revoke_index *ix)
{
	return ix != NULL ? ix->cap * sizeof(*ix->slots) + ix->bytes : 0;
}

static int
grow(struct revoke_index *ix)
{
	struct revoke_entry *old = ix->slots, *e;
	size_t oldcap = ix->cap, i, j, ncap = ix->cap * 2;

	if ((ix->slots = calloc(ncap, sizeof(*ix->slots))) == NULL) {
		ix->slots = old;
		return SF_ENOMEM;
	}
	ix->cap = ncap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		for (j = old[i].hash & (ncap - 1); ; j = (j + 1) & (ncap - 1)) {
			e = &ix->slots[j];
			if (e->key == NULL) {
				*e = old[i];
				break;
			}
		}
	}
	free(old);
	return SF_OK;
}

int
revoke_add(struct revoke_index *ix, const char *kind, const char *id,
    int64_t time, int64_t expires, const char *reason)
{
	struct revoke_entry *e;
	uint64_t h = hash_key(kind, id);
	size_t i;
	int rc;

	if ((ix->count + 1) * 4 > ix->cap * 3 && (rc = grow(ix)) != SF_OK)
		return rc;
	for (i = h & (ix->cap - 1); ; i = (i + 1) & (ix->cap - 1)) {
		e = &ix->slots[i];
		if (e->key == NULL)
			break;
		if (e->hash == h && key_is(e->key, kind, id)) {
			/* A later revocation supersedes. */
			if (time > e->time) {
				e->time = time;
				e->expires = expires;
			}
			return SF_OK;
		}
	}
	if (sf_asprintf(&e->key, "%s:%s", kind, id) != SF_OK)
		return SF_ENOMEM;
	if (reason != NULL && (e->reason = sf_strdup(reason)) == NULL) {
		free(e->key);
		e->key = NULL;
		return SF_ENOMEM;
	}
	e->hash = h;
	e->time = time;
	e->expires = expires;
	ix->count++;
	ix->bytes += strlen(e->key) + 1 + (reason ? strlen(reason) + 1 : 0);
	return SF_OK;
}

int
revoke_check(const struct revoke_index *ix, const char *kind, const char *id,
    int64_t iat, int64_t now, const char **reason)
{
	const struct revoke_entry *e;
	uint64_t h;
	size_t i;

	if (reason != NULL)
		*reason = NULL;
	if (ix == NULL || ix->count == 0 || id == NULL)
		return SF_OK;
	h = hash_key(kind, id);
	for (i = h & (ix->cap - 1); ; i = (i + 1) & (ix->cap - 1)) {
		e = &ix->slots[i];
		if (e->key == NULL)
			return SF_OK;
		if (e->hash != h || !key_is(e->key, kind, id))
			continue;
		if (e->expires != 0 && e->expires <= now)
			return SF_OK;
		if (iat != 0 && iat > e->time)
			return SF_OK;	/* issued after the revocation */
		if (reason != NULL)
			*reason = e->reason;
		return SF_EREVOKED;
	}
}

struct load_arg {
	struct revoke_index	*ix;
	int64_t			 now;
};

static int
load_one(const char *key, const char *val, size_t len, void *arg)
{
	struct load_arg *la = arg;
	const char *colon = strchr(key, ':');
	char kind[8];
	json_t *o;
	int rc = SF_OK;

	if (colon == NULL || (size_t)(colon - key) >= sizeof(kind))
		return SF_OK;		/* not ours: skipped */
	memcpy(kind, key, (size_t)(colon - key));
	kind[colon - key] = '\0';
	if ((o = json_loadb(val, len, 0, NULL)) == NULL) {
		log_warn("revoked/%s: unreadable entry skipped", key);
		return SF_OK;
	}
	if (json_integer_value(json_object_get(o, "expires")) == 0 ||
	    json_integer_value(json_object_get(o, "expires")) > la->now)
		rc = revoke_add(la->ix, kind, colon + 1,
		    json_integer_value(json_object_get(o, "time")),
		    json_integer_value(json_object_get(o, "expires")),
		    json_string_value(json_object_get(o, "reason")));
	json_decref(o);
	return rc;
}

int
revoke_load(struct store *st, int64_t now, struct revoke_index **out)
{
	struct load_arg la;
	int rc;

	*out = NULL;
	if ((rc = revoke_new(&la.ix)) != SF_OK)
		return rc;
	la.now = now;
	rc = store_iter(st, "revoked", load_one, &la);
	if (rc != SF_OK && rc != SF_ENOTFOUND) {
		revoke_free(la.ix);
		return rc;
	}
	*out = la.ix;
	return SF_OK;
}

int
revoke_put(struct store *st, const char *kind, const char *id, int64_t time,
    int64_t expires, const char *reason, const char *event,
    const char *source)
{
	char *key = NULL, *val = NULL;
	json_t *o;
	int rc;

	if (strcmp(kind, "sub") != 0 && strcmp(kind, "jti") != 0)
		return SF_EINVAL;
	o = json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:s?}",
	    "kind", kind, "id", id, "reason", reason, "event", event,
	    "time", (json_int_t)time, "expires", (json_int_t)expires,
	    "source", source);
	if (o == NULL || (val = json_dump_compact(o)) == NULL ||
	    sf_asprintf(&key, "%s:%s", kind, id) != SF_OK) {
		rc = SF_ENOMEM;
		goto out;
	}
	rc = store_put(st, "revoked", key, val, strlen(val), STORE_REPLACE);
out:
	json_decref(o);
	free(val);
	free(key);
	return rc;
}

int
revoke_lift(struct store *st, const char *kind, const char *id)
{
	char *key = NULL;
	int rc;

	if (sf_asprintf(&key, "%s:%s", kind, id) != SF_OK)
		return SF_ENOMEM;
	rc = store_del(st, "revoked", key);
	free(key);
	return rc;
}
