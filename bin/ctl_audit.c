/*
 * ctl_audit.c - `starflyctl audit`: the hash-chained audit trail
 * (lib/audit.c has the design).
 *
 *   audit verify                 walk every file; report the first
 *                                broken line (exit 1) or the head
 *   audit tail [-n N] [--type T] [-f]
 *                                the last N records (default 10),
 *                                only type T (repeatable); -f follows
 *   audit rotate                 start a new file now
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define TAIL_TYPES	16

static const char audit_usage[] =
    "usage: starflyctl audit verify\n"
    "       starflyctl audit tail [-n N] [--type TYPE]... [-f]\n"
    "       starflyctl audit rotate\n"
    "TYPE: exchange, agent, tool, verify, signal, revocation, seal, key\n";

static int
audit_verify_cmd(const struct sf_conf *conf)
{
	struct audit_report r;
	int rc;

	rc = audit_verify(conf, &r);
	if (rc == SF_OK) {
		if (r.records == 0)
			printf("ok: the trail is empty\n");
		else
			printf("ok: %llu records, seq %llu..%llu%s, head "
			    "%s\n", (unsigned long long)r.records,
			    (unsigned long long)r.first_seq,
			    (unsigned long long)r.last_seq,
			    r.first_seq > 1 ? " (older files removed)" : "",
			    r.last_hash);
	} else if (rc == SF_EPARSE)
		printf("broken: %s:%llu: %s\n", r.file ? r.file : "?",
		    (unsigned long long)r.line, r.why ? r.why : "?");
	else
		fprintf(stderr, "starflyctl audit verify: %s\n",
		    sf_strerror(rc));
	audit_report_clear(&r);
	return rc == SF_OK ? 0 : 1;
}

static bool
wanted(char *const *types, size_t n, const char *type)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; type != NULL && i < n; i++)
		if (strcmp(types[i], type) == 0)
			return true;
	return false;
}

static int
audit_tail_cmd(const struct sf_conf *conf, long long count,
    char *const *types, size_t ntypes, bool follow)
{
	struct audit_follow *f = NULL;
	struct audit_line l;
	struct pollfd pfd;
	const char *raw;
	char **ring;
	size_t len, head = 0, held = 0, i;
	int rc;

	if ((ring = calloc((size_t)count + 1, sizeof(*ring))) == NULL)
		return 1;
	if ((rc = audit_follow_open(conf, 0, true, &f)) != SF_OK) {
		fprintf(stderr, "starflyctl audit tail: %s\n",
		    sf_strerror(rc));
		free(ring);
		return 1;
	}
	/* Everything there now, keeping the last count matching lines. */
	while ((rc = audit_follow_next(f, &l, &raw, &len)) == SF_OK) {
		if (count > 0 && wanted(types, ntypes, l.type)) {
			free(ring[head]);
			ring[head] = sf_strndup(raw, len);
			head = (head + 1) % (size_t)count;
			if (held < (size_t)count)
				held++;
		}
		audit_line_clear(&l);
	}
	for (i = 0; i < held; i++) {
		size_t k = (head + (size_t)count - held + i) % (size_t)count;

		if (ring[k] != NULL)
			printf("%s\n", ring[k]);
	}
	fflush(stdout);
	for (i = 0; i < (size_t)count; i++)
		free(ring[i]);
	free(ring);
	while (follow) {
		pfd.fd = audit_follow_fd(f);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, pfd.fd < 0 ? 250 : 5000) == -1 &&
		    errno != EINTR)
			break;
		while (audit_follow_next(f, &l, &raw, &len) == SF_OK) {
			if (wanted(types, ntypes, l.type))
				printf("%.*s\n", (int)len, raw);
			audit_line_clear(&l);
		}
		if (fflush(stdout) != 0)
			break;
	}
	audit_follow_close(f);
	return 0;
}

int
ctl_audit(struct ctl *c, int argc, char **argv)
{
	const struct sf_conf *conf;
	struct audit *a = NULL;
	char *types[TAIL_TYPES];
	size_t ntypes = 0;
	long long n = 10;
	bool follow = false;
	int i, rc;

	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "tail") == 0) {
		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "-f") == 0)
				follow = true;
			else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc &&
			    sf_strtonum(argv[i + 1], 0, 1000000, &n) == SF_OK)
				i++;
			else if (strcmp(argv[i], "--type") == 0 &&
			    i + 1 < argc && ntypes < TAIL_TYPES)
				types[ntypes++] = argv[++i];
			else if (strncmp(argv[i], "--type=", 7) == 0 &&
			    ntypes < TAIL_TYPES)
				types[ntypes++] = argv[i] + 7;
			else
				goto usage;
		}
	} else if (argc != 2 || (strcmp(argv[1], "verify") != 0 &&
	    strcmp(argv[1], "rotate") != 0))
		goto usage;
	if ((conf = ctl_conf(c)) == NULL)
		return 1;
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify_cmd(conf);
	if (strcmp(argv[1], "tail") == 0)
		return audit_tail_cmd(conf, n, types, ntypes, follow);
	if ((rc = audit_open(conf, "starflyctl", &a)) != SF_OK ||
	    (rc = audit_rotate(a)) != SF_OK) {
		fprintf(stderr, "starflyctl audit rotate: %s\n",
		    sf_strerror(rc));
		audit_close(a);
		return 1;
	}
	audit_close(a);
	printf("rotated: %s/audit.log starts afresh, chained to the last "
	    "record\n", conf->audit_dir);
	return 0;
usage:
	fputs(audit_usage, stderr);
	return 2;
}
