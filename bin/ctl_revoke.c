/*
 * ctl_revoke.c - `starflyctl revoke`, `unrevoke`, `revocations`: the
 * operator's hand on the revocation set, written to the store (synced,
 * journaled) exactly as signals.fcgi writes it, so every process of the
 * unit sees the change at its next request.
 *
 *   revoke [--jti] [--reason TEXT] [--ttl SECONDS] ID
 *   unrevoke [--jti] [--forget] ID
 *   revocations [list] [--all] [--json]
 *   revocations hash
 *   revocations prune
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define PRUNE_BATCH	1000

static const char revoke_usage[] =
    "usage: starflyctl revoke [--jti] [--reason TEXT] [--ttl SECONDS] ID\n"
    "       starflyctl unrevoke [--jti] [--forget] ID\n"
    "       starflyctl revocations [list] [--all] [--json]\n"
    "       starflyctl revocations hash\n"
    "       starflyctl revocations prune\n"
    "ID is a subject id (wimse://..., spiffe://...) or, with --jti, the jti "
    "of\none token this unit issued.\n";

static struct store *
open_store(struct ctl *c, const char *cmd)
{
	const struct sf_conf *conf;
	struct store *st = NULL;
	int rc;

	if ((conf = ctl_conf(c)) == NULL)
		return NULL;
	if ((rc = store_open(conf->store, false, &st)) != SF_OK) {
		fprintf(stderr, "starflyctl %s: store %s: %s (run `starflyctl "
		    "init`)\n", cmd, conf->store, sf_strerror(rc));
		return NULL;
	}
	/* Wait out a process's full reload rather than fail. */
	store_set_timeout(st, 10000);
	(void)revoke_ring_open(conf->store);
	return st;
}

int
ctl_revoke(struct ctl *c, int argc, char **argv)
{
	const char *kind = "sub", *reason = "operator", *id = NULL;
	struct store *st;
	long long ttl = 0;
	int64_t now = sf_now();
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--jti") == 0)
			kind = "jti";
		else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
			if (sf_strtonum(argv[++i], 1, 10LL * 365 * 86400, &ttl) !=
			    SF_OK) {
				fprintf(stderr, "starflyctl revoke: --ttl takes "
				    "seconds (1 to 10 years)\n");
				return 2;
			}
		} else if (argv[i][0] == '-' || id != NULL) {
			fputs(revoke_usage, stderr);
			return 2;
		} else
			id = argv[i];
	}
	if (id == NULL) {
		fputs(revoke_usage, stderr);
		return 2;
	}
	if (!revoke_valid(kind, id)) {
		fprintf(stderr, "starflyctl revoke: %s is not a valid id (1 to "
		    "500 bytes of UTF-8 without control characters)\n", id);
		return 2;
	}
	if ((st = open_store(c, "revoke")) == NULL)
		return 1;
	rc = revoke_put(st, kind, id, now, ttl > 0 ? now + ttl : 0, reason,
	    NULL, "starflyctl");
	store_close(st);
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl revoke: %s\n", sf_strerror(rc));
		return 1;
	}
	printf("revoked %s %s%s\n", kind, id, ttl > 0 ? " (expiring)" : "");
	return 0;
}

int
ctl_unrevoke(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	const char *kind = "sub", *id = NULL;
	struct revoke_op op = { 0 };
	struct store *st;
	bool forget = false;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--jti") == 0)
			kind = "jti";
		else if (strcmp(argv[i], "--forget") == 0)
			forget = true;
		else if (argv[i][0] == '-' || id != NULL) {
			fputs(revoke_usage, stderr);
			return 2;
		} else
			id = argv[i];
	}
	if (id == NULL || !revoke_valid(kind, id)) {
		fputs(revoke_usage, stderr);
		return 2;
	}
	if ((conf = ctl_conf(c)) == NULL || (st = open_store(c, "unrevoke")) ==
	    NULL)
		return 1;
	op.type = forget ? REVOKE_DEL : REVOKE_LIFT;
	op.kind = kind;
	op.id = id;
	op.time = sf_now();
	op.token_ttl = conf->max_token_ttl;
	op.source = "starflyctl";
	rc = revoke_commit(st, &op, 1, op.time);
	store_close(st);
	if (rc == SF_OK)
		rc = op.result;
	if (rc == SF_ENOTFOUND) {
		fprintf(stderr, "starflyctl unrevoke: %s %s is not %s\n", kind,
		    id, forget ? "in the revocation set" : "revoked");
		return 1;
	}
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl unrevoke: %s\n", sf_strerror(rc));
		return 1;
	}
	printf("%s %s %s\n", forget ? "forgot" : "lifted", kind, id);
	return 0;
}

static void
fmt_time(int64_t t, char out[21])
{
	if (t == 0)
		snprintf(out, 21, "never");
	else
		token_rfc3339(t, out);
}

static int
list(struct ctl *c, bool all, bool as_json)
{
	const struct revoke_entry *e;
	struct revoke_list *l = NULL;
	struct store *st;
	json_t *arr;
	char t1[21], t2[21], *s;
	size_t n, i;
	int rc;

	if ((st = open_store(c, "revocations")) == NULL)
		return 1;
	rc = revoke_entries(st, all ? 0 : sf_now(), &l, &n);
	store_close(st);
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl revocations: %s\n",
		    sf_strerror(rc));
		return 1;
	}
	if (as_json) {
		arr = json_array();
		for (i = 0; arr != NULL && i < n; i++)
			json_array_append_new(arr, revoke_entry_json(
			    revoke_list_get(l, i)));
		s = arr != NULL ? json_dumps(arr, JSON_INDENT(2)) : NULL;
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(arr);
	} else {
		printf("%-4s  %-20s  %-20s  %-6s  %-12s  %s\n", "KIND", "TIME",
		    "EXPIRES", "LIFTED", "SOURCE", "ID");
		for (i = 0; i < n; i++) {
			e = revoke_list_get(l, i);
			fmt_time(e->time, t1);
			fmt_time(e->expires, t2);
			printf("%-4s  %-20s  %-20s  %-6s  %-12s  %s\n",
			    e->kind, t1, t2, e->lifted ? "yes" : "no",
			    e->source ? e->source : "-", e->id);
		}
	}
	revoke_list_free(l);
	return 0;
}

static int
hash(struct ctl *c)
{
	struct revoke_list *l = NULL;
	struct store *st;
	char h[72], ts[21];
	int64_t now = sf_now();
	size_t n;
	int rc;

	if ((st = open_store(c, "revocations")) == NULL)
		return 1;
	rc = revoke_entries(st, now, &l, &n);
	store_close(st);
	if (rc == SF_OK)
		rc = revoke_hash(l, h);
	revoke_list_free(l);
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl revocations hash: %s\n",
		    sf_strerror(rc));
		return 1;
	}
	token_rfc3339(now, ts);
	printf("{\"hash\":\"%s\",\"count\":%zu,\"timestamp\":\"%s\"}\n", h, n,
	    ts);
	return 0;
}

/* Drop entries past their expiry (they refuse nothing any more). */
static int
prune(struct ctl *c)
{
	const struct revoke_entry *e;
	struct revoke_list *l = NULL;
	struct revoke_op *ops = NULL;
	struct store *st;
	int64_t now = sf_now();
	size_t n, i, k = 0, done = 0;
	int rc;

	if ((st = open_store(c, "revocations prune")) == NULL)
		return 1;
	if ((rc = revoke_entries(st, 0, &l, &n)) != SF_OK)
		goto out;
	if ((ops = calloc(PRUNE_BATCH, sizeof(*ops))) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	for (i = 0; i <= n; i++) {
		if (i < n) {
			e = revoke_list_get(l, i);
			if (e->expires == 0 || e->expires > now)
				continue;
			memset(&ops[k], 0, sizeof(ops[k]));
			ops[k].type = REVOKE_DEL;
			ops[k].kind = e->kind;
			ops[k].id = e->id;
			k++;
		}
		if (k == PRUNE_BATCH || (i == n && k > 0)) {
			if ((rc = revoke_commit(st, ops, k, now)) != SF_OK)
				goto out;
			done += k;
			k = 0;
		}
	}
	printf("pruned %zu expired entr%s\n", done, done == 1 ? "y" : "ies");
out:
	free(ops);
	revoke_list_free(l);
	store_close(st);
	if (rc != SF_OK) {
		fprintf(stderr, "starflyctl revocations prune: %s\n",
		    sf_strerror(rc));
		return 1;
	}
	return 0;
}

int
ctl_revocations(struct ctl *c, int argc, char **argv)
{
	bool all = false, as_json = false;
	int i = 1;

	if (argc == 2 && strcmp(argv[1], "hash") == 0)
		return hash(c);
	if (argc == 2 && strcmp(argv[1], "prune") == 0)
		return prune(c);
	if (argc > 1 && strcmp(argv[1], "list") == 0)
		i++;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = true;
		else if (strcmp(argv[i], "--json") == 0)
			as_json = true;
		else {
			fputs(revoke_usage, stderr);
			return 2;
		}
	}
	return list(c, all, as_json);
}
