/*
 * test_util.c - small helpers of lib/util.c: the pid, UUIDv4 identifiers,
 * decimal digits.
 */
#include <sys/wait.h>

#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

/* RFC 9562 §5.4 layout: 8-4-4-4-12 lowercase hex, version 4, variant 10. */
static int
uuid_shape(const char *u)
{
	size_t i;

	if (strlen(u) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return 0;
		} else if (strchr("0123456789abcdef", u[i]) == NULL ||
		    u[i] == '\0')
			return 0;
	}
	return u[14] == '4' && strchr("89ab", u[19]) != NULL;
}

static int
cmp36(const void *a, const void *b)
{
	return memcmp(a, b, 36);
}

/* Many identifiers (several pool refills): well-formed and distinct. */
static void
test_uuid4_shape_and_distinct(void)
{
	enum { N = 5000 };
	static char u[N][37];
	size_t i;

	for (i = 0; i < N; i++) {
		T_OK(sf_uuid4(u[i]));
		T(uuid_shape(u[i]));
	}
	qsort(u, N, sizeof(u[0]), cmp36);
	for (i = 1; i < N; i++)
		T(memcmp(u[i - 1], u[i], 36) != 0);
}

/* A forked child never repeats what its parent hands out next. */
static void
test_uuid4_fork(void)
{
	char mine[4][37], theirs[4][37];
	int p[2], status, i, j;
	pid_t pid;

	T_OK(sf_uuid4(mine[0]));	/* the pool is filled */
	T(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		for (i = 0; i < 4; i++)
			if (sf_uuid4(theirs[i]) != SF_OK)
				_exit(2);
		_exit(write(p[1], theirs, sizeof(theirs)) ==
		    (ssize_t)sizeof(theirs) ? 0 : 3);
	}
	close(p[1]);
	for (i = 0; i < 4; i++)
		T_OK(sf_uuid4(mine[i]));
	T(read(p[0], theirs, sizeof(theirs)) == (ssize_t)sizeof(theirs));
	close(p[0]);
	T(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	for (i = 0; i < 4; i++) {
		T(uuid_shape(theirs[i]));
		for (j = 0; j < 4; j++)
			T(strcmp(mine[i], theirs[j]) != 0);
	}
}

/* The cached pid is the process's own, in the parent and in a child. */
static void
test_getpid_fork(void)
{
	pid_t parent, pid;
	int status;

	T((parent = sf_getpid()) == getpid());
	if ((pid = fork()) == 0)
		_exit(sf_getpid() == getpid() && sf_getpid() != parent ? 0 : 1);
	T(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	T(sf_getpid() == parent);
}

/* sf_u64_dec(v) as the text want, written before the end of a buffer. */
static int
dec_is(uint64_t v, const char *want)
{
	char buf[SF_U64_DEC_MAX + 2], *p;

	memset(buf, '#', sizeof(buf));
	p = sf_u64_dec(buf + SF_U64_DEC_MAX + 1, v);
	return p >= buf + 1 && buf[0] == '#' &&
	    (size_t)(buf + SF_U64_DEC_MAX + 1 - p) == strlen(want) &&
	    memcmp(p, want, strlen(want)) == 0 &&
	    buf[SF_U64_DEC_MAX + 1] == '#';
}

static void
test_u64_dec(void)
{
	T(dec_is(0, "0"));
	T(dec_is(7, "7"));
	T(dec_is(10, "10"));
	T(dec_is(1796657554, "1796657554"));
	T(dec_is(UINT64_MAX, "18446744073709551615"));
}

int
main(void)
{
	t_prog = "util";
	RUN(test_getpid_fork);
	RUN(test_uuid4_shape_and_distinct);
	RUN(test_uuid4_fork);
	RUN(test_u64_dec);
	return T_DONE();
}
