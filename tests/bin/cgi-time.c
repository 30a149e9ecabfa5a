/*
 * cgi-time - the cold start of one CGI request: run a CGI program N
 * times, timing each from fork to its exit with the whole response read.
 *
 *   cgi-time N BODYFILE PROGRAM [ARG...]
 *
 * The CGI environment (REQUEST_METHOD, REQUEST_URI, CONTENT_TYPE,
 * STARFLY_CONF ...) is the caller's; CONTENT_LENGTH is set from
 * BODYFILE.  A run counts as good when the response starts with
 * "Status: 2".  Prints one line:
 *   runs N good G min X p50 X p90 X p99 X max X mean X (ms)
 * and exits 1 when a run was not good.  Used by tests/bench/hosts.sh.
 */
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "starfly.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One run: 1 good, 0 not good, -1 could not run.  *ms its duration. */
static int
run_once(char **argv, const char *body, size_t blen, double *ms)
{
	struct timespec t0, t1;
	char buf[4096], head[16];
	size_t hlen = 0;
	int in[2], out[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(in) == -1 || pipe(out) == -1)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* The body fits the pipe: write it all, then read the response. */
	if (blen > 0 && write(in[1], body, blen) != (ssize_t)blen)
		fprintf(stderr, "cgi-time: short write to the program\n");
	close(in[1]);
	while ((n = read(out[0], buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (hlen < sizeof(head)) {
			size_t k = sizeof(head) - hlen < (size_t)n ?
			    sizeof(head) - hlen : (size_t)n;

			memcpy(head + hlen, buf, k);
			hlen += k;
		}
	}
	close(out[0]);
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	return hlen >= 9 && memcmp(head, "Status: 2", 9) == 0 &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int
main(int argc, char *argv[])
{
	char *body = NULL, cl[32];
	double *ms, sum = 0;
	size_t blen = 0;
	long long n;
	int i, good = 0, r;

	if (argc < 4 || sf_strtonum(argv[1], 1, 100000, &n) != SF_OK) {
		fprintf(stderr, "usage: cgi-time N BODYFILE PROGRAM [ARG...]\n");
		return 2;
	}
	if (sf_read_file(argv[2], 65536, &body, &blen) != SF_OK) {
		fprintf(stderr, "cgi-time: cannot read %s\n", argv[2]);
		return 2;
	}
	snprintf(cl, sizeof(cl), "%zu", blen);
	setenv("CONTENT_LENGTH", cl, 1);
	if ((ms = calloc((size_t)n, sizeof(*ms))) == NULL) {
		free(body);
		return 2;
	}
	for (i = 0; i < n; i++) {
		if ((r = run_once(argv + 3, body, blen, &ms[i])) < 0) {
			fprintf(stderr, "cgi-time: cannot run %s\n", argv[3]);
			free(ms);
			free(body);
			return 2;
		}
		good += r;
		sum += ms[i];
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("runs %lld good %d min %.2f p50 %.2f p90 %.2f p99 %.2f max %.2f "
	    "mean %.2f (ms)\n", n, good, ms[0], ms[(size_t)(n * 50 / 100)],
	    ms[(size_t)(n * 90 / 100)], ms[(size_t)(n * 99 / 100)],
	    ms[n - 1], sum / (double)n);
	free(ms);
	free(body);
	return good == n ? 0 : 1;
}
