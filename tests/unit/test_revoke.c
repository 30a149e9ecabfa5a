/*
 * test_revoke.c - the revocation index and the shared nonce table
 * (across real processes).
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

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
	/* Issued before or at the revocation: refused; after: allowed. */
	T(revoke_check(ix, "sub", "wimse://a", 999, 1100, &why) ==
	    SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://a", 1000, 1100, &why) ==
	    SF_EREVOKED);
	T(revoke_check(ix, "sub", "wimse://a", 1001, 1100, &why) == SF_OK);
	/* Kinds are separate namespaces. */
	T(revoke_check(ix, "jti", "wimse://a", 0, 1100, &why) == SF_OK);
	T(revoke_check(ix, "sub", "wimse://ab", 0, 1100, &why) == SF_OK);
	/* Expired entries no longer refuse. */
	T_OK(revoke_add(ix, "jti", "j1", 1000, 2000, NULL));
	T(revoke_check(ix, "jti", "j1", 0, 1999, &why) == SF_EREVOKED);
	T(revoke_check(ix, "jti", "j1", 0, 2000, &why) == SF_OK);
	/* Growth keeps every entry findable. */
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "wimse://td/n/%d", i);
		T_OK(revoke_add(ix, "sub", id, 5, 0, "x"));
	}
	T(revoke_count(ix) == 5002);
	for (i = 0; i < 5000; i += 7) {
		snprintf(id, sizeof(id), "wimse://td/n/%d", i);
		T(revoke_check(ix, "sub", id, 0, 10, NULL) == SF_EREVOKED);
	}
	T(revoke_check(ix, "sub", "wimse://td/n/5000", 0, 10, NULL) == SF_OK);
	revoke_free(ix);
	revoke_free(NULL);
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

int
main(void)
{
	t_prog = "revoke";
	RUN(index_semantics);
	RUN(nonce_once_across_processes);
	return T_DONE();
}
