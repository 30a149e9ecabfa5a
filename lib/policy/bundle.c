/*
 * bundle.c - loading policy files into a compilable set, like OPA loads a
 * bundle directory.
 *
 * A directory is walked recursively (in name order): every *.rego file is
 * a module; every file named data.json is placed in data at the path of
 * its directory relative to the root; a subdirectory holding its own
 * .manifest is a separate bundle and is skipped, as are names starting
 * with '.'.  A file given directly is a module (*.rego) or a document
 * merged at data's root (*.json).  Any parse error rejects everything.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rego.h"

#define MAX_REGO	(4 * 1024 * 1024)
#define MAX_JSON	(64 * 1024 * 1024)
#define MAX_FILES	10000
#define MAX_DEPTH	32

static int
berr(char **err, const char *fmt, const char *a, const char *b)
{
	if (*err == NULL && sf_asprintf(err, fmt, a, b) != SF_OK)
		*err = NULL;
	return SF_EPOLICY;
}

static bool
has_suffix(const char *s, const char *suf)
{
	size_t	 n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

static int
add_module(struct policy_c *pc, const char *path, char **err)
{
	char		*src = NULL;
	size_t		 len;
	int		 rc;

	if (pc->nmods >= MAX_FILES)
		return berr(err, "%s: too many policy files%s", path, "");
	if ((rc = sf_read_file(path, MAX_REGO, &src, &len)) != SF_OK)
		return berr(err, "%s: cannot read: %s", path, sf_strerror(rc));
	rc = bundle_add_module_text(pc, path, src, len, err);
	free(src);
	return rc;
}

/* Deep-merge src into *dst (objects merge; anything else conflicts). */
static int
merge(struct arena *a, struct rv **dst, struct rv *src, bool *conflict)
{
	struct rv_kv	*kv;
	struct rv	*d = *dst, *cur;
	uint32_t	 i, n = 0;
	int		 rc;

	if (d == NULL) {
		*dst = src;
		return SF_OK;
	}
	if (d->t != RV_OBJ || src->t != RV_OBJ) {
		*conflict = true;
		return SF_OK;
	}
	if ((kv = arena_alloc(a, (d->n + src->n + 1) * sizeof(*kv))) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < d->n; i++)
		kv[n++] = d->u.o[i];
	for (i = 0; i < src->n; i++) {
		uint32_t j;

		for (j = 0; j < d->n; j++)
			if (rv_eq(kv[j].k, src->u.o[i].k))
				break;
		if (j < d->n) {
			cur = kv[j].v;
			if ((rc = merge(a, &cur, src->u.o[i].v, conflict)) !=
			    SF_OK)
				return rc;
			if (*conflict)
				return SF_OK;
			kv[j].v = cur;
		} else
			kv[n++] = src->u.o[i];
	}
	if ((*dst = rv_obj_from(a, kv, n, NULL)) == NULL)
		return SF_ENOMEM;
	return SF_OK;
}

int
bundle_parse_json(struct arena *a, const char *text, size_t len,
    struct rv **out, char *msg, size_t msglen)
{
	json_t		*j;
	json_error_t	 je;

	*out = NULL;
	j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	    &je);
	if (j == NULL)
		j = json_loadb(text, len, JSON_DECODE_ANY |
		    JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
	if (j == NULL) {
		snprintf(msg, msglen, "%d:%d: %s", je.line, je.column, je.text);
		return SF_EPARSE;
	}
	*out = rv_from_json(a, j);
	json_decref(j);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

/* Place document doc at path (keys) below data's root. */
static int
add_data(struct policy_c *pc, const char *file, char **keys, size_t nkeys,
    struct rv *doc, char **err)
{
	struct rv	*wrapped = doc, *k;
	struct rv_kv	*kv;
	bool		 conflict = false;
	size_t		 i;
	int		 rc;

	for (i = nkeys; i > 0; i--) {
		if ((kv = arena_alloc(&pc->a, sizeof(*kv))) == NULL ||
		    (k = rv_cstr(&pc->a, keys[i - 1])) == NULL)
			return SF_ENOMEM;
		kv->k = k;
		kv->v = wrapped;
		if ((wrapped = rv_obj_from(&pc->a, kv, 1, NULL)) == NULL)
			return SF_ENOMEM;
	}
	if (wrapped->t != RV_OBJ)
		return berr(err, "%s: data document must be an object%s", file,
		    "");
	if ((rc = merge(&pc->a, &pc->data, wrapped, &conflict)) != SF_OK)
		return rc;
	if (conflict)
		return berr(err, "%s: data conflicts with another data file%s",
		    file, "");
	return SF_OK;
}

static int
add_json_file(struct policy_c *pc, const char *path, char **keys,
    size_t nkeys, char **err)
{
	char		*text = NULL, msg[256];
	size_t		 len;
	struct rv	*doc;
	int		 rc;

	if ((rc = sf_read_file(path, MAX_JSON, &text, &len)) != SF_OK)
		return berr(err, "%s: cannot read: %s", path, sf_strerror(rc));
	rc = bundle_parse_json(&pc->a, text, len, &doc, msg, sizeof(msg));
	free(text);
	if (rc == SF_EPARSE)
		return berr(err, "%s:%s", path, msg);
	if (rc != SF_OK)
		return rc;
	return add_data(pc, path, keys, nkeys, doc, err);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
walk_dir(struct policy_c *pc, const char *dir, char **keys, size_t depth,
    bool root, char **err)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		**names = NULL, *path = NULL, *manifest = NULL;
	size_t		 n = 0, cap = 0, i;
	int		 rc = SF_OK;

	if (depth > MAX_DEPTH)
		return berr(err, "%s: directories nested too deep%s", dir, "");
	if (!root) {
		if (sf_asprintf(&manifest, "%s/.manifest", dir) != SF_OK)
			return SF_ENOMEM;
		rc = stat(manifest, &st);
		free(manifest);
		if (rc == 0)
			return SF_OK;	/* a separate bundle */
		rc = SF_OK;
	}
	if ((d = opendir(dir)) == NULL)
		return berr(err, "%s: cannot open directory: %s", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn;

			cap = cap == 0 ? 32 : cap * 2;
			if ((nn = realloc(names, cap * sizeof(*nn))) == NULL) {
				rc = SF_ENOMEM;
				goto out;
			}
			names = nn;
		}
		if ((names[n] = sf_strdup(de->d_name)) == NULL) {
			rc = SF_ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && rc == SF_OK; i++) {
		free(path);
		if (sf_asprintf(&path, "%s/%s", dir, names[i]) != SF_OK) {
			rc = SF_ENOMEM;
			break;
		}
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			keys[depth] = names[i];
			rc = walk_dir(pc, path, keys, depth + 1, false, err);
		} else if (S_ISREG(st.st_mode) && has_suffix(names[i], ".rego"))
			rc = add_module(pc, path, err);
		else if (S_ISREG(st.st_mode) && strcmp(names[i], "data.json") == 0)
			rc = add_json_file(pc, path, keys, depth, err);
	}
out:
	free(path);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int
bundle_add_path(struct policy_c *pc, const char *path, char **err)
{
	struct stat	 st;
	char		*keys[MAX_DEPTH + 2];

	if (stat(path, &st) != 0)
		return berr(err, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return walk_dir(pc, path, keys, 0, true, err);
	if (has_suffix(path, ".json"))
		return add_json_file(pc, path, keys, 0, err);
	return add_module(pc, path, err);
}

int
bundle_add_data_text(struct policy_c *pc, const char *name, const char *text,
    size_t len, char **err)
{
	struct rv	*doc;
	char		 msg[256];
	int		 rc;

	if ((rc = bundle_parse_json(&pc->a, text, len, &doc, msg,
	    sizeof(msg))) == SF_EPARSE)
		return berr(err, "%s:%s", name, msg);
	if (rc != SF_OK)
		return rc;
	return add_data(pc, name, NULL, 0, doc, err);
}

int
bundle_add_module_text(struct policy_c *pc, const char *name,
    const char *text, size_t len, char **err)
{
	struct module	**mods, *m;
	char		*file;
	int		 rc;

	if ((file = arena_strdup(&pc->a, name)) == NULL)
		return SF_ENOMEM;
	if ((rc = rego_parse_module(&pc->a, file, text, len, &m, err)) !=
	    SF_OK)
		return rc;
	if ((mods = arena_grow(&pc->a, pc->mods, pc->nmods, pc->nmods + 1,
	    sizeof(*mods))) == NULL)
		return SF_ENOMEM;
	mods[pc->nmods++] = m;
	pc->mods = mods;
	return SF_OK;
}

/* Signature of a directory tree for change detection (bundle watching). */
static void
sig_walk(const char *dir, uint64_t *h, size_t depth)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		*path;

	if (depth > MAX_DEPTH || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".manifest"))
			continue;
		if (sf_asprintf(&path, "%s/%s", dir, de->d_name) != SF_OK)
			continue;
		if (stat(path, &st) == 0) {
			uint64_t x = (uint64_t)st.st_mtim.tv_sec * 1000000007u ^
			    (uint64_t)st.st_mtim.tv_nsec ^
			    ((uint64_t)st.st_size << 17) ^
			    (uint64_t)st.st_ino * 31u;
			const char *p;

			for (p = de->d_name; *p != '\0'; p++)
				x = x * 131 + (unsigned char)*p;
			*h += x * 2654435761u;	/* order-independent */
			if (S_ISDIR(st.st_mode) &&
			    strcmp(de->d_name, ".manifest") != 0)
				sig_walk(path, h, depth + 1);
		}
		free(path);
	}
	closedir(d);
}

uint64_t
bundle_signature(const char *dir)
{
	uint64_t	 h = 0;

	sig_walk(dir, &h, 0);
	return h;
}
