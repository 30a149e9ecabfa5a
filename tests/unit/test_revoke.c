/*
 * test_revoke.c - revocations: the in-memory index, durable commits and
 * their journal seen from another store handle and another process,
 * roll-forward of an interrupted commit, journal trimming with its
 * markers, the federation hash (RFC 8785 serialisation), and the shared
 * nonce table (across real processes).
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "starfly.h"
#include "t.h"

#define CAEP "https://schemas.openid.net/secevent/caep/event-type/"

static void
index_semantics(void)
{
	struct revoke_index *ix = NULL;
	const char *why;
	char id[64];
	int i;

	T_OK(revoke_new(&ix));
	T(revoke_check(ix, "sub", "wimse://a", 0, 100, &why) == SF_OK);
	T_OK(revoke_add(ix, "sub", "wimse://a", 1000, 0, "session-revoked"));
	T(revoke_check(ix, "sub", "wimse://a", 0, 1100, &why) == SF_EREVOKED);
	T_EQ_STR(why, "session-revoked");
	/* A live entry refuses tokens of any age. */
	T(revoke_check(ix, "sub", "wimse://a", 999, 1100, &why) ==
	    SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://a", 1001, 1100, &why) ==
	    SF_EREVOKED);
	/* Kinds are separate namespaces; prefixes are different ids. */
	T(revoke_check(ix, "jti", "wimse://a", 0, 1100, &why) == SF_OK);
	T(revoke_check(ix, "sub", "wimse://ab", 0, 1100, &why) == SF_OK);
	T(revoke_check(ix, "sub", "wimse://", 0, 1100, &why) == SF_OK);
	/* Expired entries no longer refuse. */
	T_OK(revoke_add(ix, "jti", "j1", 1000, 2000, NULL));
	T(revoke_check(ix, "jti", "j1", 0, 1999, &why) == SF_EREVOKED);
	T(why == NULL);
	T(revoke_check(ix, "jti", "j1", 0, 2000, &why) == SF_OK);
	/* Bad input is refused, never stored. */
	T(revoke_add(ix, "user", "x", 1, 0, NULL) == SF_EINVAL);
	T(revoke_add(ix, "sub", "", 1, 0, NULL) == SF_EINVAL);
	T(revoke_add(ix, "sub", "a\nb", 1, 0, NULL) == SF_EINVAL);
	T(revoke_add(ix, "sub", "\xc3\x28", 1, 0, NULL) == SF_EINVAL);
	T(revoke_check(ix, "sub", NULL, 0, 1, NULL) == SF_OK);
	/* Growth keeps every entry findable. */
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "wimse://td/n/%d", i);
		T_OK(revoke_add(ix, "sub", id, 5, 0, "x"));
	}
	T(revoke_count(ix) == 5002);
	T(revoke_memory(ix) >= 5002 * 40);
	for (i = 0; i < 5000; i += 7) {
		snprintf(id, sizeof(id), "wimse://td/n/%d", i);
		T(revoke_check(ix, "sub", id, 0, 10, NULL) == SF_EREVOKED);
	}
	T(revoke_check(ix, "sub", "wimse://td/n/5000", 0, 10, NULL) == SF_OK);
	revoke_free(ix);
	revoke_free(NULL);
}

/* Past 4 MiB the arrays are mapped (huge pages advised): still exact. */
static void
large_index(void)
{
	struct revoke_index *ix = NULL;
	char id[64];
	int i;

	T_OK(revoke_new(&ix));
	for (i = 0; i < 300000; i++) {
		snprintf(id, sizeof(id), "wimse://big/ns/n%d/sa/s%d", i % 97, i);
		T_OK(revoke_add(ix, "sub", id, 5, 0, i % 2 ? "odd" : "even"));
	}
	T(revoke_count(ix) == 300000);
	T(revoke_memory(ix) > 300000 * 48);
	for (i = 0; i < 300000; i += 3) {
		const char *why = NULL;

		snprintf(id, sizeof(id), "wimse://big/ns/n%d/sa/s%d", i % 97, i);
		T(revoke_check(ix, "sub", id, 0, 10, &why) == SF_EREVOKED);
		T_EQ_STR(why, i % 2 ? "odd" : "even");
		snprintf(id, sizeof(id), "wimse://big/ns/n%d/sa/s%d", i % 97,
		    i + 300000);
		T(revoke_check(ix, "sub", id, 0, 10, NULL) == SF_OK);
	}
	revoke_free(ix);
}

static char *
tmp_store(struct store **st)
{
	char *dir = strdup("/tmp/sf-revoke-XXXXXX"), *path = NULL;

	if (dir == NULL || mkdtemp(dir) == NULL ||
	    sf_asprintf(&path, "%s/starfly.db", dir) != SF_OK ||
	    store_open(path, true, st) != SF_OK) {
		free(dir);
		free(path);
		return NULL;
	}
	free(dir);
	return path;
}

static void
rm_store(char *path)
{
	char *cmd = NULL;

	if (path != NULL && sf_asprintf(&cmd, "rm -rf \"$(dirname '%s')\"",
	    path) == SF_OK && system(cmd) != 0)
		fprintf(stderr, "test_revoke: %s failed\n", cmd);
	free(cmd);
	free(path);
}

/* Commits are seen by another handle's index through the journal. */
static void
journal_refresh(void)
{
	struct store *st = NULL, *st2 = NULL;
	struct revoke_index *ix = NULL;
	struct revoke_op ops[3];
	const char *why;
	char *path, *val = NULL;
	size_t len;
	int64_t now = sf_now();
	uint64_t pos;
	int i;

	T((path = tmp_store(&st)) != NULL);
	T_OK(store_open(path, false, &st2));
	T_OK(revoke_load(st2, now, &ix));
	T(revoke_count(ix) == 0);
	T_OK(revoke_put(st, "sub", "wimse://t/a", now, 0, CAEP "session-revoked",
	    CAEP "session-revoked", "test"));
	T(revoke_check(ix, "sub", "wimse://t/a", 0, now, NULL) == SF_OK);
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_check(ix, "sub", "wimse://t/a", 0, now, &why) == SF_EREVOKED);
	T_EQ_STR(why, CAEP "session-revoked");
	T(revoke_position(ix) == 1);
	/* Nothing moved: refresh is a no-op. */
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_position(ix) == 1);
	/* Another namespace moving the marker costs a head read only. */
	T_OK(store_put(st, "tool", "x", "{}", 2, STORE_REPLACE));
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_position(ix) == 1);
	/* Several ops in one commit: a put, a jti, a mark. */
	memset(ops, 0, sizeof(ops));
	ops[0].type = REVOKE_PUT;
	ops[0].kind = "sub";
	ops[0].id = "wimse://t/b";
	ops[0].time = now;
	ops[0].expires = now + 60;
	ops[1].type = REVOKE_PUT;
	ops[1].kind = "jti";
	ops[1].id = "jti-1";
	ops[1].time = now;
	ops[2].type = REVOKE_MARK;
	ops[2].ns = "set-jti";
	ops[2].key = "k1";
	ops[2].val = "{}";
	T_OK(revoke_commit(st, ops, 3, now));
	/* The same marker again: nothing applied. */
	ops[0].id = "wimse://t/c";
	T(revoke_commit(st, ops, 3, now) == SF_EEXIST);
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_position(ix) == 4);
	T(revoke_check(ix, "sub", "wimse://t/b", 0, now, NULL) == SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://t/b", 0, now + 60, NULL) == SF_OK);
	T(revoke_check(ix, "jti", "jti-1", 1, now, NULL) == SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://t/c", 0, now, NULL) == SF_OK);
	T_OK(store_get(st, "set-jti", "k1", &val, &len));
	free(val);
	T(revoke_live(ix, now) == 3);
	T(revoke_live(ix, now + 60) == 2);
	/* Counters written with a change. */
	memset(ops, 0, sizeof(ops));
	ops[0].type = REVOKE_COUNT;
	ops[0].ns = "signal-stats";
	ops[0].key = "all";
	ops[0].val = "session-revoked";
	ops[0].time = 77;
	T_OK(revoke_commit(st, ops, 1, now));
	ops[0].time = 78;
	T_OK(revoke_commit(st, ops, 1, now));
	T_OK(store_get(st, "signal-stats", "all", &val, &len));
	T_EQ_STR(val, "{\"session-revoked\":{\"count\":2,\"last\":78}}");
	free(val);
	/* Merge: an earlier, expiring revocation keeps the later time and
	 * the permanent expiry. */
	T_OK(revoke_put(st, "sub", "wimse://t/a", now - 100, now + 10, "older",
	    NULL, "test"));
	T_OK(store_get(st, REVOKE_NS, "sub:wimse://t/a", &val, &len));
	T(strstr(val, "\"expires\":0") != NULL);
	T(strstr(val, CAEP "session-revoked") != NULL);
	free(val);
	/* Lift: new exchanges pass, tokens from before stay refused. */
	T(revoke_lift(st, "sub", "wimse://t/a", now + 5, 3600, "test") == SF_OK);
	T(revoke_lift(st, "sub", "wimse://t/a", now + 5, 3600, "test") ==
	    SF_ENOTFOUND);
	T(revoke_lift(st, "sub", "wimse://t/none", now, 3600, "test") ==
	    SF_ENOTFOUND);
	T_OK(revoke_refresh(ix, st2, now + 6));
	T(revoke_check(ix, "sub", "wimse://t/a", 0, now + 6, NULL) == SF_OK);
	T(revoke_check(ix, "sub", "wimse://t/a", now + 6, now + 6, NULL) ==
	    SF_OK);
	T(revoke_check(ix, "sub", "wimse://t/a", now - 1, now + 6, NULL) ==
	    SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://t/a", now - 1, now + 3601, NULL) ==
	    SF_OK);
	/* Revoked and lifted within one second: a token of that second
	 * passes, an older one does not. */
	T_OK(revoke_put(st, "sub", "wimse://t/same", now, 0, "r", NULL, "t"));
	T(revoke_lift(st, "sub", "wimse://t/same", now, 3600, "t") == SF_OK);
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_check(ix, "sub", "wimse://t/same", now, now, NULL) == SF_OK);
	T(revoke_check(ix, "sub", "wimse://t/same", now - 1, now, NULL) ==
	    SF_EREVOKED);
	memset(ops, 0, sizeof(ops));
	ops[0].type = REVOKE_DEL;
	ops[0].kind = "sub";
	ops[0].id = "wimse://t/same";
	T_OK(revoke_commit(st, ops, 1, now));
	T_OK(revoke_refresh(ix, st2, now));
	/* A fresh load agrees with the incrementally refreshed index. */
	pos = revoke_position(ix);
	revoke_free(ix);
	T_OK(revoke_load(st2, now + 6, &ix));
	T(revoke_position(ix) == pos);
	T(revoke_count(ix) == 3);
	T(revoke_check(ix, "sub", "wimse://t/a", now - 1, now + 6, NULL) ==
	    SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://t/a", 0, now + 6, NULL) == SF_OK);
	/* Delete. */
	memset(ops, 0, sizeof(ops));
	ops[0].type = REVOKE_DEL;
	ops[0].kind = "jti";
	ops[0].id = "jti-1";
	T_OK(revoke_commit(st, ops, 1, now));
	T(ops[0].result == SF_OK);
	T_OK(revoke_commit(st, ops, 1, now));
	T(ops[0].result == SF_ENOTFOUND);
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_check(ix, "jti", "jti-1", 1, now, NULL) == SF_OK);
	T(revoke_count(ix) == 2);
	/* Malformed ops are refused before anything is written. */
	ops[0].kind = "user";
	T(revoke_commit(st, ops, 1, now) == SF_EINVAL);
	ops[0].type = REVOKE_MARK;
	ops[0].ns = REVOKE_NS;
	ops[0].key = "x";
	ops[0].val = "y";
	T(revoke_commit(st, ops, 1, now) == SF_EINVAL);
	/* Many changes at once: deletes in the middle of clusters. */
	for (i = 0; i < 300; i++) {
		char id[32];

		snprintf(id, sizeof(id), "wimse://t/m%d", i);
		memset(ops, 0, sizeof(ops));
		ops[0].type = i % 3 == 2 ? REVOKE_DEL : REVOKE_PUT;
		ops[0].kind = "sub";
		snprintf(id, sizeof(id), "wimse://t/m%d", i % 3 == 2 ? i - 1 : i);
		ops[0].id = id;
		ops[0].time = now;
		T_OK(revoke_commit(st, ops, 1, now));
	}
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_count(ix) == 2 + 100);
	for (i = 0; i < 300; i++) {
		char id[32];

		snprintf(id, sizeof(id), "wimse://t/m%d", i);
		T(revoke_check(ix, "sub", id, 0, now, NULL) ==
		    (i % 3 == 0 ? SF_EREVOKED : SF_OK));
	}
	revoke_free(ix);
	store_close(st2);
	store_close(st);
	rm_store(path);
}

/* The index in another process sees a commit as soon as it returns. */
static void
other_process(void)
{
	struct store *st = NULL;
	struct revoke_index *ix = NULL;
	int p2c[2], c2p[2], status;
	char *path, c;
	pid_t pid;

	T((path = tmp_store(&st)) != NULL);
	T(pipe(p2c) == 0 && pipe(c2p) == 0);
	pid = fork();
	T(pid != -1);
	if (pid == 0) {
		int64_t now = sf_now();
		int bad = 0;

		if (revoke_load(st, now, &ix) != SF_OK)
			_exit(3);
		if (revoke_check(ix, "sub", "wimse://p/x", 0, now, NULL) != SF_OK)
			bad |= 1;
		(void)!write(c2p[1], "r", 1);
		if (read(p2c[0], &c, 1) != 1)
			_exit(4);
		/* What a request does first. */
		if (revoke_refresh(ix, st, now) != SF_OK ||
		    revoke_check(ix, "sub", "wimse://p/x", 0, now, NULL) !=
		    SF_EREVOKED)
			bad |= 2;
		revoke_free(ix);
		_exit(bad);
	}
	T(read(c2p[0], &c, 1) == 1);
	T_OK(revoke_put(st, "sub", "wimse://p/x", sf_now(), 0, "r", NULL,
	    "test"));
	T(write(p2c[1], "g", 1) == 1);
	T(waitpid(pid, &status, 0) == pid);
	T(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p2c[0]); close(p2c[1]); close(c2p[0]); close(c2p[1]);
	store_close(st);
	rm_store(path);
}

/* What a writer killed in the middle of a commit leaves behind. */
struct crash {
	const char	*val;
};

static int
crash_cb(struct store_batch *b, void *arg)
{
	struct crash *c = arg;
	const char *rec = "{\"op\":\"put\",\"at\":1,\"key\":"
	    "\"sub:wimse://c/x\",\"val\":\"{\\\"time\\\":5,"
	    "\\\"expires\\\":0,\\\"lifted\\\":0,\\\"kind\\\":"
	    "\\\"sub\\\",\\\"id\\\":\\\"wimse://c/x\\\"}\"}";
	int rc;

	(void)c;
	/* Record 2 written, its data written, head not moved past 1. */
	if ((rc = store_batch_put(b, REVOKE_LOG_NS, "0000000000000002", rec,
	    strlen(rec), STORE_REPLACE)) != SF_OK)
		return rc;
	return SF_OK;
}

static void
roll_forward(void)
{
	struct store *st = NULL;
	struct revoke_index *ix = NULL;
	struct crash c = { NULL };
	char *path, *val = NULL;
	size_t len;
	int64_t now = sf_now();

	T((path = tmp_store(&st)) != NULL);
	T_OK(revoke_put(st, "sub", "wimse://c/a", now, 0, "a", NULL, "test"));
	T_OK(store_batch(st, crash_cb, &c));
	T_OK(revoke_load(st, now, &ix));
	/* Not committed: readers do not apply it. */
	T(revoke_position(ix) == 1);
	T(revoke_check(ix, "sub", "wimse://c/x", 0, now, NULL) == SF_OK);
	T(store_get(st, REVOKE_NS, "sub:wimse://c/x", &val, &len) ==
	    SF_ENOTFOUND);
	/* The next writer rolls it forward; then readers see it. */
	T_OK(revoke_recover(st));
	T_OK(store_get(st, REVOKE_NS, "sub:wimse://c/x", &val, &len));
	free(val);
	T_OK(store_get(st, REVOKE_LOG_NS, "head", &val, &len));
	T_EQ_STR(val, "2");
	free(val);
	T_OK(revoke_refresh(ix, st, now));
	T(revoke_check(ix, "sub", "wimse://c/x", 0, now, NULL) == SF_EREVOKED);
	/* And a commit after it gets the next number. */
	T_OK(revoke_put(st, "sub", "wimse://c/b", now, 0, "b", NULL, "test"));
	T_OK(revoke_refresh(ix, st, now));
	T(revoke_position(ix) == 3);
	revoke_free(ix);
	store_close(st);
	rm_store(path);
}

/* Old records go, with their markers; a reader left behind rebuilds. */
static void
trimming(void)
{
	struct store *st = NULL;
	struct revoke_index *ix = NULL;
	struct revoke_op op;
	char *path, *val = NULL, key[32], tailv[32];
	size_t len;
	int64_t t0 = 1000000;
	int i;

	T((path = tmp_store(&st)) != NULL);
	memset(&op, 0, sizeof(op));
	op.type = REVOKE_PUT;
	op.kind = "sub";
	op.id = "wimse://k/first";
	op.time = t0;
	T_OK(revoke_commit(st, &op, 1, t0));
	T_OK(revoke_load(st, t0, &ix));
	for (i = 0; i < 1100; i++) {
		memset(&op, 0, sizeof(op));
		op.type = REVOKE_MARK;
		op.ns = "set-jti";
		snprintf(key, sizeof(key), "m%d", i);
		op.key = key;
		op.val = "1";
		T_OK(revoke_commit(st, &op, 1, t0));
	}
	/* Young records are all kept. */
	T(store_get(st, REVOKE_LOG_NS, "tail", &val, &len) == SF_ENOTFOUND);
	/* A day later, each commit trims a few of the oldest. */
	for (i = 0; i < 20; i++) {
		memset(&op, 0, sizeof(op));
		op.type = REVOKE_PUT;
		op.kind = "sub";
		snprintf(key, sizeof(key), "wimse://k/%d", i);
		op.id = key;
		op.time = t0 + 86401;
		T_OK(revoke_commit(st, &op, 1, t0 + 86401));
	}
	T_OK(store_get(st, REVOKE_LOG_NS, "tail", &val, &len));
	snprintf(tailv, sizeof(tailv), "%s", val);
	free(val);
	/* Up to 5 per commit, but the newest 1024 records always stay:
	 * head 1121, so records 1..97 go. */
	T(atoi(tailv) == 1121 - 1024 + 1);
	/* Markers of trimmed records are gone (record 2 + i is m<i>),
	 * later ones stay. */
	T(store_get(st, "set-jti", "m0", &val, &len) == SF_ENOTFOUND);
	T(store_get(st, "set-jti", "m95", &val, &len) == SF_ENOTFOUND);
	T_OK(store_get(st, "set-jti", "m96", &val, &len));
	free(val);
	/* The reader far behind (and past the trimmed records) rebuilds. */
	T_OK(revoke_refresh(ix, st, t0 + 86401));
	T(revoke_position(ix) == 1 + 1100 + 20);
	T(revoke_count(ix) == 21);
	T(revoke_check(ix, "sub", "wimse://k/first", 0, t0, NULL) ==
	    SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://k/19", 0, t0, NULL) == SF_EREVOKED);
	revoke_free(ix);
	store_close(st);
	rm_store(path);
}

static void
sha256_hex(const char *s, char out[72])
{
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	strcpy(out, "sha256:");
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static void
federation_hash(void)
{
	struct store *st = NULL;
	struct revoke_list *l = NULL;
	const struct revoke_entry *e;
	char *path, h[72], want[72], *buf = NULL;
	size_t n, len = 0, cap = 0;
	json_t *j;

	/* RFC 8785 string rules. */
	T_OK(revoke_jcs_string("a\"b\\c\x01\x1f\n\t/\xc3\xa9\x7f", &buf, &len,
	    &cap));
	T_EQ_STR(buf, "\"a\\\"b\\\\c\\u0001\\u001f\\n\\t/\xc3\xa9\x7f\"");
	free(buf);
	T((path = tmp_store(&st)) != NULL);
	T_OK(revoke_entries(st, 100, &l, &n));
	T(n == 0);
	T_OK(revoke_hash(l, h));
	T_EQ_STR(h, "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f"
	    "11161202b945");
	revoke_list_free(l);
	T_OK(revoke_put(st, "sub", "wimse://a", 100, 0, "r", "ev", "src"));
	T_OK(revoke_put(st, "jti", "j1", 50, 5000, NULL, NULL, NULL));
	T_OK(revoke_put(st, "sub", "wimse://gone", 10, 20, NULL, NULL, NULL));
	T(revoke_lift(st, "jti", "j1", 60, 4000, NULL) == SF_OK);
	T_OK(revoke_entries(st, 100, &l, &n));
	T(n == 2);
	e = revoke_list_get(l, 0);
	T_EQ_STR(e->kind, "jti");
	T_EQ_STR(e->id, "j1");
	T(e->lifted && e->time == 50 && e->expires == 4050);
	e = revoke_list_get(l, 1);
	T_EQ_STR(e->id, "wimse://a");
	T_EQ_STR(e->reason, "r");
	T_EQ_STR(e->event, "ev");
	T_EQ_STR(e->source, "src");
	T(revoke_list_get(l, 2) == NULL);
	T_OK(revoke_hash(l, h));
	sha256_hex("[{\"expires\":4050,\"id\":\"j1\",\"kind\":\"jti\","
	    "\"lifted\":true,\"time\":50},{\"expires\":0,\"id\":"
	    "\"wimse://a\",\"kind\":\"sub\",\"lifted\":false,"
	    "\"time\":100}]", want);
	T_EQ_STR(h, want);
	j = revoke_entry_json(revoke_list_get(l, 1));
	T(j != NULL);
	T_EQ_STR(json_string_value(json_object_get(j, "source")), "src");
	json_decref(j);
	revoke_list_free(l);
	/* now 0: expired entries too. */
	T_OK(revoke_entries(st, 0, &l, &n));
	T(n == 3);
	revoke_list_free(l);
	store_close(st);
	rm_store(path);
}

static void
nonce_once_across_processes(void)
{
	char path[] = "/tmp/sf-nonce-XXXXXX";
	struct nonce_table *a = NULL, *b = NULL;
	int fd, status, i, replays = 0;
	pid_t pid;

	T((fd = mkstemp(path)) != -1);
	close(fd);
	T_OK(nonce_open(path, &a));
	T(nonce_use(a, "n-1", 100, 130) == SF_OK);
	T(nonce_use(a, "n-1", 101, 131) == SF_EREPLAY);
	/* Past its lifetime a nonce may be used again. */
	T(nonce_use(a, "n-1", 131, 161) == SF_OK);
	/* Another process sees the same table. */
	pid = fork();
	T(pid != -1);
	if (pid == 0) {
		struct nonce_table *c = NULL;

		if (nonce_open(path, &c) != SF_OK)
			_exit(3);
		_exit(nonce_use(c, "n-1", 140, 170) == SF_EREPLAY &&
		    nonce_use(c, "n-2", 140, 170) == SF_OK ? 0 : 4);
	}
	T(waitpid(pid, &status, 0) == pid);
	T(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T(nonce_use(a, "n-2", 141, 171) == SF_EREPLAY);
	/* Two processes racing on 2000 nonces: each accepted exactly once. */
	T_OK(nonce_open(path, &b));
	pid = fork();
	T(pid != -1);
	if (pid == 0) {
		char n[32];
		int mine = 0;

		for (i = 0; i < 2000; i++) {
			snprintf(n, sizeof(n), "race-%d", i);
			if (nonce_use(b, n, 200, 260) == SF_OK)
				mine++;
		}
		_exit(mine > 255 ? 255 : 0);
	}
	for (i = 0; i < 2000; i++) {
		char n[32];

		snprintf(n, sizeof(n), "race-%d", i);
		if (nonce_use(a, n, 200, 260) == SF_EREPLAY)
			replays++;
	}
	T(waitpid(pid, &status, 0) == pid);
	/* Every nonce is now present exactly once. */
	for (i = 0; i < 2000; i++) {
		char n[32];

		snprintf(n, sizeof(n), "race-%d", i);
		T(nonce_use(a, n, 201, 261) == SF_EREPLAY);
	}
	nonce_close(a);
	nonce_close(b);
	unlink(path);
}

/* With the ring, refreshes read no store; without it they still see. */
static void
ring_tail(void)
{
	struct store *st = NULL, *st2 = NULL;
	struct revoke_index *ix = NULL;
	struct store_stats s0, s1;
	char *path;
	uint64_t tools;
	int64_t now = sf_now();
	int status;
	pid_t pid;

	T((path = tmp_store(&st)) != NULL);
	T_OK(store_open(path, false, &st2));
	T_OK(revoke_ring_open(path));
	T_OK(revoke_ring_open(path));		/* idempotent */
	T_OK(revoke_load(st2, now, &ix));
	T_OK(revoke_put(st, "sub", "wimse://r/a", now, 0, "a", NULL, "t"));
	T(revoke_ring_head() == 1);
	store_get_stats(st2, &s0);
	T_OK(revoke_refresh(ix, st2, now));
	store_get_stats(st2, &s1);
	T(revoke_check(ix, "sub", "wimse://r/a", 0, now, NULL) == SF_EREVOKED);
	T(s1.reads == s0.reads);
	/* A child (its own lock descriptor) posts; the parent follows. */
	pid = fork();
	T(pid != -1);
	if (pid == 0)
		_exit(revoke_put(st, "sub", "wimse://r/b", now, 0, "b", NULL,
		    "t") == SF_OK ? 0 : 1);
	T(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	T_OK(revoke_refresh(ix, st2, now));
	store_get_stats(st2, &s1);
	T(s1.reads == s0.reads);
	T(revoke_check(ix, "sub", "wimse://r/b", 0, now, NULL) == SF_EREVOKED);
	/* A writer without the ring: found through the store. */
	pid = fork();
	T(pid != -1);
	if (pid == 0) {
		revoke_ring_close();
		_exit(revoke_put(st, "sub", "wimse://r/c", now, 0, "c", NULL,
		    "t") == SF_OK ? 0 : 1);
	}
	T(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	T(revoke_ring_head() == 2);
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_check(ix, "sub", "wimse://r/c", 0, now, NULL) == SF_EREVOKED);
	/* And the next posted commit skips over the unposted record. */
	T_OK(revoke_put(st, "sub", "wimse://r/d", now, 0, "d", NULL, "t"));
	T_OK(revoke_refresh(ix, st2, now));
	T(revoke_check(ix, "sub", "wimse://r/d", 0, now, NULL) == SF_EREVOKED);
	T(revoke_position(ix) == 4 && revoke_count(ix) == 4);
	tools = revoke_ring_tools();
	revoke_ring_note_tools();
	T(revoke_ring_tools() == tools + 1);
	revoke_free(ix);
	revoke_ring_close();
	T(revoke_ring_head() == 0);
	store_close(st2);
	store_close(st);
	rm_store(path);
}

int
main(void)
{
	t_prog = "revoke";
	RUN(index_semantics);
	RUN(large_index);
	RUN(journal_refresh);
	RUN(other_process);
	RUN(roll_forward);
	RUN(trimming);
	RUN(federation_hash);
	RUN(ring_tail);
	RUN(nonce_once_across_processes);
	return T_DONE();
}
