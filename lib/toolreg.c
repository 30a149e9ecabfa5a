/*
 * toolreg.c - the MCP tool registry in the store, and the in-memory copy
 * mcp.fcgi serves from.  The index "tool-index/ids" ({"rev","ids"}) is
 * the membership: an entry is registered when its id is listed there.  A
 * registration writes the entry, then the index; a deregistration the
 * index, then deletes the entry; both in one synced batch, so a crash
 * leaves at worst an unlisted entry, which a later registration of the
 * same id overwrites.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "starfly.h"

#define TOOLREG_INDEX_NS	"tool-index"
#define TOOLREG_INDEX_KEY	"ids"

static const struct field_spec tool_fields[] = {
	{ "tool_id", FIELD_STRING, FIELD_REQUIRED, 1, 128, "A-Za-z0-9._-" },
	{ "name", FIELD_STRING, 0, 0, 256, NULL },
	{ "resource_uri", FIELD_URI, FIELD_REQUIRED, 0, 2048, NULL },
	{ "server_id", FIELD_STRING, 0, 0, 256, NULL },
	{ "description", FIELD_STRING, FIELD_EMPTY_OK, 0, 4096, NULL },
	{ "capabilities", FIELD_STRING_ARRAY, 0, 0, 128, NULL },
	{ "max_blast_radius", FIELD_STRING, 0, 0, 32, NULL },
	{ "exec_acts", FIELD_STRING_ARRAY, 0, 0, 128, NULL },
	{ NULL, 0, 0, 0, 0, NULL }
};

int
toolreg_validate(json_t *req, char **why)
{
	const char *br;
	int rc;

	*why = NULL;
	if (!json_is_object(req)) {
		(void)sf_asprintf(why, "the body must be a JSON object");
		return SF_EINVAL;
	}
	if ((rc = validate_fields(req, tool_fields, false, why)) != SF_OK)
		return rc;
	br = json_string_value(json_object_get(req, "max_blast_radius"));
	if (br != NULL && verify_blast_rank(br) < 0) {
		(void)sf_asprintf(why, "max_blast_radius must be function, "
		    "service, namespace, cluster, workspace, trust_domain or "
		    "fabric");
		return SF_EINVAL;
	}
	return SF_OK;
}

/* Parse the index value, or an empty one (new reference). */
static json_t *
index_parse(const char *val, size_t len)
{
	json_t *ix = NULL;

	if (val != NULL)
		ix = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
	if (ix != NULL && (!json_is_integer(json_object_get(ix, "rev")) ||
	    !json_is_array(json_object_get(ix, "ids")))) {
		log_err("store: %s/%s is malformed; treated as empty",
		    TOOLREG_INDEX_NS, TOOLREG_INDEX_KEY);
		json_decref(ix);
		ix = NULL;
	}
	if (ix == NULL)
		ix = json_pack("{s:i, s:[]}", "rev", 0, "ids");
	return ix;
}

/* Position of id in the sorted ids, or where it would go (*found). */
static size_t
index_find(const json_t *ids, const char *id, bool *found)
{
	size_t lo = 0, hi = json_array_size(ids), mid;
	int c;

	*found = false;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(json_string_value(json_array_get(ids, mid)), id);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
batch_index(struct store_batch *b, json_t **ix)
{
	char *val = NULL;
	size_t len;
	int rc;

	*ix = NULL;
	rc = store_batch_get(b, TOOLREG_INDEX_NS, TOOLREG_INDEX_KEY, &val,
	    &len);
	if (rc != SF_OK && rc != SF_ENOTFOUND)
		return rc;
	*ix = index_parse(val, len);
	free(val);
	return *ix != NULL ? SF_OK : SF_ENOMEM;
}

static int
batch_put_index(struct store_batch *b, json_t *ix)
{
	char *s;
	int rc;

	json_object_set_new(ix, "rev", json_integer(json_integer_value(
	    json_object_get(ix, "rev")) + 1));
	if ((s = json_dump_compact(ix)) == NULL)
		return SF_ENOMEM;
	rc = store_batch_put(b, TOOLREG_INDEX_NS, TOOLREG_INDEX_KEY, s,
	    strlen(s), STORE_REPLACE);
	free(s);
	return rc;
}

struct add_arg {
	const json_t	*req;
	int64_t		 now;
	json_t		*stored;
	bool		 created;
};

/* The entry without its server-set members, for comparison. */
static bool
same_content(const json_t *entry, const json_t *req)
{
	json_t *c = json_copy((json_t *)(uintptr_t)entry);
	bool eq;

	if (c == NULL)
		return false;
	json_object_del(c, "registered_at");
	eq = json_equal(c, req);
	json_decref(c);
	return eq;
}

static int
add_cb(struct store_batch *b, void *arg)
{
	struct add_arg *a = arg;
	const char *id = json_string_value(json_object_get(a->req, "tool_id"));
	json_t *ix = NULL, *ids, *entry = NULL;
	char *val = NULL, ts[21];
	size_t len, pos;
	bool found;
	int rc;

	if ((rc = batch_index(b, &ix)) != SF_OK)
		return rc;
	ids = json_object_get(ix, "ids");
	pos = index_find(ids, id, &found);
	if (found) {
		rc = store_batch_get(b, TOOLREG_NS, id, &val, &len);
		if (rc == SF_OK) {
			entry = json_loadb(val, len, 0, NULL);
			free(val);
			if (entry != NULL && same_content(entry, a->req)) {
				a->stored = entry;
				json_decref(ix);
				return SF_OK;
			}
			json_decref(entry);
			json_decref(ix);
			return SF_EEXIST;
		}
		if (rc != SF_ENOTFOUND) {
			json_decref(ix);
			return rc;
		}
		/* Listed without an entry: register it afresh. */
	} else if (json_array_size(ids) >= TOOLREG_MAX) {
		json_decref(ix);
		return SF_ELIMIT;
	}
	token_rfc3339(a->now, ts);
	if ((entry = json_copy((json_t *)(uintptr_t)a->req)) == NULL ||
	    json_object_set_new(entry, "registered_at", json_string(ts)) != 0 ||
	    (val = json_dump_compact(entry)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = store_batch_put(b, TOOLREG_NS, id, val, strlen(val),
	    STORE_REPLACE)) != SF_OK)
		goto out;
	if (!found && json_array_insert_new(ids, pos, json_string(id)) != 0) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = batch_put_index(b, ix)) != SF_OK)
		goto out;
	a->stored = entry;
	entry = NULL;
	a->created = true;
out:
	free(val);
	json_decref(entry);
	json_decref(ix);
	return rc;
}

int
toolreg_add(struct store *st, const json_t *req, int64_t now,
    json_t **stored, bool *created)
{
	struct add_arg a = { req, now, NULL, false };
	int rc;

	*stored = NULL;
	*created = false;
	if (!json_is_string(json_object_get(req, "tool_id")))
		return SF_EINVAL;
	rc = store_batch(st, add_cb, &a);
	if (rc != SF_OK) {
		json_decref(a.stored);
		return rc;
	}
	if (a.created)
		revoke_ring_note_tools();
	*stored = a.stored;
	*created = a.created;
	return SF_OK;
}

static int
del_cb(struct store_batch *b, void *arg)
{
	const char *id = arg;
	json_t *ix = NULL, *ids;
	size_t pos;
	bool found;
	int rc;

	if ((rc = batch_index(b, &ix)) != SF_OK)
		return rc;
	ids = json_object_get(ix, "ids");
	pos = index_find(ids, id, &found);
	if (!found) {
		json_decref(ix);
		return SF_ENOTFOUND;
	}
	json_array_remove(ids, pos);
	rc = batch_put_index(b, ix);
	json_decref(ix);
	if (rc != SF_OK)
		return rc;
	rc = store_batch_del(b, TOOLREG_NS, id);
	return rc == SF_ENOTFOUND ? SF_OK : rc;
}

int
toolreg_del(struct store *st, const char *tool_id)
{
	int rc;

	if ((rc = store_batch(st, del_cb, (void *)(uintptr_t)tool_id)) ==
	    SF_OK)
		revoke_ring_note_tools();
	return rc;
}

static int
read_index(struct store *st, json_t **ix)
{
	char *val = NULL;
	size_t len;
	int rc;

	*ix = NULL;
	rc = store_get(st, TOOLREG_INDEX_NS, TOOLREG_INDEX_KEY, &val, &len);
	if (rc != SF_OK && rc != SF_ENOTFOUND)
		return rc;
	*ix = index_parse(val, len);
	free(val);
	return *ix != NULL ? SF_OK : SF_ENOMEM;
}

static int
read_entry(struct store *st, const char *id, json_t **out)
{
	char *val = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = store_get(st, TOOLREG_NS, id, &val, &len)) != SF_OK)
		return rc;
	*out = json_loadb(val, len, 0, NULL);
	free(val);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		log_err("store: %s/%s is not a JSON object", TOOLREG_NS, id);
		return SF_ESTORE;
	}
	return SF_OK;
}

int
toolreg_get(struct store *st, const char *tool_id, json_t **out)
{
	json_t *ix = NULL;
	bool found;
	int rc;

	*out = NULL;
	if ((rc = read_index(st, &ix)) != SF_OK)
		return rc;
	(void)index_find(json_object_get(ix, "ids"), tool_id, &found);
	json_decref(ix);
	if (!found)
		return SF_ENOTFOUND;
	return read_entry(st, tool_id, out);
}

/* Every listed entry, in id order; entries gone meanwhile are skipped. */
static int
read_all(struct store *st, const json_t *ix, json_t **out)
{
	const json_t *ids = json_object_get(ix, "ids"), *m;
	json_t *arr, *e;
	size_t i;
	int rc;

	*out = NULL;
	if ((arr = json_array()) == NULL)
		return SF_ENOMEM;
	json_array_foreach(ids, i, m) {
		rc = read_entry(st, json_string_value(m), &e);
		if (rc == SF_ENOTFOUND)
			continue;
		if (rc != SF_OK) {
			json_decref(arr);
			return rc;
		}
		if (!json_equal(json_object_get(e, "tool_id"), m)) {
			log_err("store: %s/%s names another tool_id; skipped",
			    TOOLREG_NS, json_string_value(m));
			json_decref(e);
			continue;
		}
		json_array_append_new(arr, e);
	}
	*out = arr;
	return SF_OK;
}

int
toolreg_list(struct store *st, json_t **out)
{
	json_t *ix = NULL;
	int rc;

	*out = NULL;
	if ((rc = read_index(st, &ix)) != SF_OK)
		return rc;
	rc = read_all(st, ix, out);
	json_decref(ix);
	return rc;
}

struct toolreg_cache {
	bool		 loaded;
	uint64_t	 gen;
	uint64_t	 ring_tools;	/* revoke_ring_tools() seen */
	uint64_t	 ring_head;	/* revoke_ring_head() seen */
	json_int_t	 rev;
	json_t		*list;		/* array sorted by tool_id */
};

int
toolreg_cache_new(struct toolreg_cache **out)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return SF_ENOMEM;
	if (((*out)->list = json_array()) == NULL) {
		free(*out);
		*out = NULL;
		return SF_ENOMEM;
	}
	return SF_OK;
}

void
toolreg_cache_free(struct toolreg_cache *c)
{
	if (c == NULL)
		return;
	json_decref(c->list);
	free(c);
}

int
toolreg_cache_refresh(struct toolreg_cache *c, struct store *st)
{
	json_t *ix = NULL, *list = NULL;
	uint64_t gen, tools, head;
	json_int_t rev;
	int rc;

	if (c == NULL || st == NULL)
		return SF_EINVAL;
	gen = store_generation(st);
	tools = revoke_ring_tools();
	head = revoke_ring_head();
	if (c->loaded && gen == c->gen && tools == c->ring_tools)
		return SF_OK;
	/* Only revocations moved (the ring says so): nothing to read. */
	if (c->loaded && tools == c->ring_tools && head != c->ring_head) {
		c->gen = gen;
		c->ring_head = head;
		return SF_OK;
	}
	if ((rc = read_index(st, &ix)) != SF_OK)
		return rc;
	rev = json_integer_value(json_object_get(ix, "rev"));
	if (!c->loaded || rev != c->rev) {
		if ((rc = read_all(st, ix, &list)) != SF_OK) {
			json_decref(ix);
			return rc;
		}
		json_decref(c->list);
		c->list = list;
		c->rev = rev;
		c->loaded = true;
	}
	c->gen = gen;
	c->ring_tools = tools;
	c->ring_head = head;
	json_decref(ix);
	return SF_OK;
}

const json_t *
toolreg_cache_get(const struct toolreg_cache *c, const char *tool_id)
{
	size_t lo, hi, mid;
	int cmp;

	if (c == NULL || tool_id == NULL)
		return NULL;
	lo = 0;
	hi = json_array_size(c->list);
	while (lo < hi) {
		mid = (lo + hi) / 2;
		cmp = strcmp(json_string_value(json_object_get(
		    json_array_get(c->list, mid), "tool_id")), tool_id);
		if (cmp == 0)
			return json_array_get(c->list, mid);
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const json_t *
toolreg_cache_list(const struct toolreg_cache *c)
{
	return c != NULL ? c->list : NULL;
}
