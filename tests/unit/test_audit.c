/*
 * test_audit.c - the hash-chained audit trail: concurrent writers from
 * real processes, verify catching an edited, a removed, a reordered and
 * a truncated line, rotation keeping the chain, following with resume.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

static char base[] = "/tmp/sf-audit.XXXXXX";
static struct sf_conf conf;
static char rundir[128], auditdir[128], logpath[160];

static void
fresh(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/run %s/audit && mkdir -p "
	    "%s/run %s/audit", base, base, base, base);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
}

static int
record_n(struct audit *a, int n, const char *who)
{
	char sub[64];
	int i, rc;

	for (i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "wimse://dev.local/%s/%d", who, i);
		if ((rc = audit_record(a, "req-1", "exchange",
		    "token_exchange", sub, "https://api.example.com",
		    "allow", NULL, NULL)) != SF_OK)
			return rc;
	}
	return SF_OK;
}

/* Read the whole log into a new buffer. */
static char *
slurp(const char *path)
{
	char *buf = NULL;
	size_t len;

	if (sf_read_file(path, 64 << 20, &buf, &len) != SF_OK)
		return NULL;
	return buf;
}

static int
spit(const char *path, const char *buf)
{
	return sf_write_file(path, buf, strlen(buf), 0640);
}

/* Pointer to the start of line n (1-based) in buf. */
static char *
line_at(char *buf, int n)
{
	while (--n > 0 && buf != NULL)
		if ((buf = strchr(buf, '\n')) != NULL)
			buf++;
	return buf;
}

static void
chain_and_verify(void)
{
	struct audit_report r;
	struct audit *a = NULL;
	json_t *x;

	fresh();
	T_OK(audit_open(&conf, "test", &a));
	T_OK(record_n(a, 10, "p"));
	x = json_pack("{s:s, s:i}", "scope", "read", "ttl", 60);
	T_OK(audit_record(a, NULL, "verify", "mcp_verify",
	    "bad\xff utf8 \"quoted\"\n\x01", NULL, "deny", "no \\ reason", x));
	json_decref(x);
	audit_close(a);
	T_OK(audit_verify(&conf, &r));
	T(r.records == 11 && r.first_seq == 1 && r.last_seq == 11);
	T(r.head_seq == 11);
	audit_report_clear(&r);
}

/* The value of member name ("pid", "detail", ...) in line, as written. */
static char *
member_of(const char *line, const char *name)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), ",\"%s\":", name);
	if ((p = strstr(line, key)) == NULL)
		return NULL;
	p += strlen(key);
	if (strcmp(name, "detail") == 0)
		e = strstr(p, ",\"prev\":\"");
	else
		e = p + strcspn(p, ",}");
	return e != NULL ? sf_strndup(p, (size_t)(e - p)) : NULL;
}

static void
record_format(void)
{
	struct audit_report r;
	struct audit *a = NULL;
	char *buf, *l, *v, *want, big[3000];

	fresh();
	T_OK(audit_open(&conf, "t\"e\\st", &a));
	T_OK(audit_record(a, "r\x01\x7f", NULL, "\xc3\xa9\xff\xed\xa0\x80",
	    "\xf0\x9f\x98\x80", NULL, "a\tb\n", "\"", NULL));
	audit_close(a);
	T((buf = slurp(logpath)) != NULL);
	T(strncmp(buf, "{\"seq\":1,\"time\":\"", 17) == 0);
	T(buf[17 + 10] == 'T' && strncmp(buf + 17 + 19, ".", 1) == 0 &&
	    strncmp(buf + 17 + 23, "Z\",", 3) == 0);
	l = strstr(buf, ",\"request_id\":");
	T(l != NULL);
	want = NULL;
	T(sf_asprintf(&want, ",\"request_id\":\"r\\u0001\\u007f\","
	    "\"program\":\"t\\\"e\\\\st\",\"pid\":%ld,\"type\":\"other\","
	    "\"action\":\"\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd\","
	    "\"subject\":\"\xf0\x9f\x98\x80\",\"target\":null,"
	    "\"decision\":\"a\\u0009b\\u000a\",\"reason\":\"\\\"\","
	    "\"prev\":\"%s\",\"hash\":\"", (long)getpid(),
	    "0000000000000000000000000000000000000000000000000000000000000000")
	    == SF_OK);
	T(strncmp(l, want, strlen(want)) == 0);
	free(want);
	free(buf);

	/* A field over 1024 bytes is cut; the line outgrows the stack. */
	fresh();
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_OK(audit_open(&conf, "t", &a));
	T_OK(audit_record(a, big, "x", big, big, big, big, big, NULL));
	audit_close(a);
	T((buf = slurp(logpath)) != NULL);
	T((v = member_of(buf, "action")) != NULL);
	T(strlen(v) == 1 + 1024 + 3 + 1 && strcmp(v + 1025, "...\"") == 0);
	free(v);
	free(buf);
	T_OK(audit_verify(&conf, &r));
	audit_report_clear(&r);
}

/* detail is what json_dumps writes of extra, byte for byte. */
static void
detail_as_jansson(void)
{
	struct audit *a = NULL;
	char *buf, *l, *v, *want, *big;
	json_t *xs[12], *in;
	size_t i, n = 0;
	int d;

	fresh();
	T((big = malloc(40000)) != NULL);
	memset(big, 'q', 39999);
	big[39999] = '\0';
	xs[n++] = json_pack("{s:s, s:i}", "scope", "read:data", "ttl", 300);
	xs[n++] = json_pack("{s:s}", "esc", "\"\\/\b\f\n\r\t\x01\x1f\x7f");
	xs[n++] = json_pack("{s:s}", "u", "\xc3\xa9\xe2\x82\xac\xef\xbf\xbf"
	    "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	xs[n++] = json_pack("{s:s%}", "nul", "a\0b", (size_t)3);
	xs[n++] = json_pack("{s:I, s:I, s:I}", "min", (json_int_t)INT64_MIN,
	    "max", (json_int_t)INT64_MAX, "neg", (json_int_t)-7);
	xs[n++] = json_pack("{s:b, s:b, s:n, s:[], s:{}}", "t", 1, "f", 0,
	    "n", "a", "o");
	xs[n++] = json_pack("{s:[i, s, [{s:i}], {}]}", "mixed", 1, "two",
	    "k", 3);
	xs[n++] = json_pack("{s:f, s:[f]}", "real", 0.1, "r", 1e100);
	xs[n++] = json_pack("{s:s}", "\xe2\x82\xac\"key\n", "v");
	xs[n++] = json_pack("{s:s}", "big", big);
	xs[n++] = json_pack("{s:s}", "half", big + 39999 - 20000);
	/* Deeper than the record's own writer goes. */
	xs[n++] = in = json_object();
	for (d = 0; d < 40 && in != NULL; d++) {
		json_object_set_new(in, "d", json_object());
		in = json_object_get(in, "d");
	}
	T_OK(audit_open(&conf, "t", &a));
	for (i = 0; i < n; i++) {
		T(xs[i] != NULL);
		T_OK(audit_record(a, NULL, "t", NULL, NULL, NULL, NULL, NULL,
		    xs[i]));
	}
	audit_close(a);
	T((buf = slurp(logpath)) != NULL);
	for (i = 0, l = buf; i < n; i++, l = strchr(l, '\n') + 1) {
		T((v = member_of(l, "detail")) != NULL);
		T((want = json_dumps(xs[i], JSON_COMPACT | JSON_ENSURE_ASCII))
		    != NULL);
		if (strlen(want) > 32 * 1024)
			T_EQ_STR(v, "{\"truncated\":true}");
		else
			T(strcmp(v, want) == 0);
		free(want);
		free(v);
	}
	free(buf);
	for (i = 0; i < n; i++)
		json_decref(xs[i]);
	free(big);
}

/* Whether line n of buf carries pid. */
static bool
line_has_pid(char *buf, int n, pid_t pid)
{
	char want[24], *v;
	bool ok;

	snprintf(want, sizeof(want), "%ld", (long)pid);
	v = member_of(line_at(buf, n), "pid");
	ok = v != NULL && strcmp(v, want) == 0;
	free(v);
	return ok;
}

/* A forked child's records carry its own pid. */
static void
pid_after_fork(void)
{
	struct audit *a = NULL;
	char *buf;
	pid_t pid;
	int st;

	fresh();
	T_OK(audit_open(&conf, "test", &a));
	T_OK(record_n(a, 1, "parent"));
	if ((pid = fork()) == 0)
		_exit(record_n(a, 1, "child") == SF_OK ? 0 : 1);
	T(pid > 0 && waitpid(pid, &st, 0) == pid);
	T(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	T_OK(record_n(a, 1, "parent"));
	audit_close(a);
	T((buf = slurp(logpath)) != NULL);
	T(line_has_pid(buf, 1, getpid()));
	T(line_has_pid(buf, 2, pid));
	T(line_has_pid(buf, 3, getpid()));
	free(buf);
}

static void
concurrent_processes(void)
{
	struct audit_report r;
	struct audit *a = NULL;
	int i, st;
	pid_t pid;

	fresh();
	/* Opened once before the fork, like a --workers supervisor. */
	T_OK(audit_open(&conf, "test", &a));
	for (i = 0; i < 4; i++) {
		if ((pid = fork()) == 0) {
			struct audit *own = NULL;
			int rc = record_n(a, 150, "forked");

			/* And one opened in the child. */
			if (rc == SF_OK)
				rc = audit_open(&conf, "child", &own);
			if (rc == SF_OK)
				rc = record_n(own, 150, "own");
			audit_close(own);
			_exit(rc == SF_OK ? 0 : 1);
		}
		T(pid > 0);
	}
	for (i = 0; i < 4; i++) {
		T(wait(&st) > 0);
		T(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	audit_close(a);
	T_OK(audit_verify(&conf, &r));
	T(r.records == 1200 && r.last_seq == 1200);
	audit_report_clear(&r);
}

static void
verify_detects_tampering(void)
{
	struct audit_report r;
	struct audit *a = NULL;
	char *orig, *buf, *l, *m, *p;
	size_t n;

	fresh();
	T_OK(audit_open(&conf, "test", &a));
	T_OK(record_n(a, 8, "t"));
	audit_close(a);
	T((orig = slurp(logpath)) != NULL);

	/* An edited line: one character of line 4. */
	T((buf = sf_strdup(orig)) != NULL);
	l = line_at(buf, 4);
	p = strstr(l, "/t/3");
	T(p != NULL);
	p[3] = '9';
	T_OK(spit(logpath, buf));
	T(audit_verify(&conf, &r) == SF_EPARSE);
	T(r.line == 4 && strstr(r.why, "hash") != NULL);
	audit_report_clear(&r);
	free(buf);

	/* A deleted line: line 5 removed. */
	T((buf = sf_strdup(orig)) != NULL);
	l = line_at(buf, 5);
	m = line_at(buf, 6);
	memmove(l, m, strlen(m) + 1);
	T_OK(spit(logpath, buf));
	T(audit_verify(&conf, &r) == SF_EPARSE);
	T(r.line == 5 && strstr(r.why, "removed") != NULL);
	audit_report_clear(&r);
	free(buf);

	/* Two lines swapped (2 and 3). */
	T((buf = sf_strdup(orig)) != NULL);
	l = line_at(buf, 2);
	m = line_at(buf, 3);
	p = line_at(buf, 4);
	{
		size_t n2 = (size_t)(m - l), n3 = (size_t)(p - m);
		char *tmp = malloc(n2 + n3);

		T(tmp != NULL);
		memcpy(tmp, m, n3);
		memcpy(tmp + n3, l, n2);
		memcpy(l, tmp, n2 + n3);
		free(tmp);
	}
	T_OK(spit(logpath, buf));
	T(audit_verify(&conf, &r) == SF_EPARSE);
	T(r.line == 2);
	audit_report_clear(&r);
	free(buf);

	/* The last line removed: the head in shared memory tells. */
	T((buf = sf_strdup(orig)) != NULL);
	n = strlen(buf);
	buf[n - 1] = '\0';
	*(strrchr(buf, '\n') + 1) = '\0';
	T_OK(spit(logpath, buf));
	T(audit_verify(&conf, &r) == SF_EPARSE);
	T(strstr(r.why, "unit wrote up to seq 8") != NULL);
	audit_report_clear(&r);
	free(buf);

	/* Restored, it verifies again. */
	T_OK(spit(logpath, orig));
	T_OK(audit_verify(&conf, &r));
	audit_report_clear(&r);
	free(orig);
}

static void
rotation_keeps_chain(void)
{
	struct audit_report r;
	struct audit *a = NULL, *b = NULL;
	struct audit_line l;
	const char *why;
	char *buf, path[256];
	FILE *fp;
	char line[4096];

	fresh();
	T_OK(audit_open(&conf, "a", &a));
	T_OK(audit_open(&conf, "b", &b));
	T_OK(record_n(a, 5, "a"));
	T_OK(audit_rotate(b));
	/* a still holds the old file: its next record goes to the new. */
	T_OK(record_n(a, 3, "a2"));
	T_OK(record_n(b, 2, "b"));
	audit_close(a);
	audit_close(b);
	snprintf(path, sizeof(path), "%s/audit-%020d.log", auditdir, 1);
	T((fp = fopen(path, "r")) != NULL);
	while (fgets(line, sizeof(line), fp) != NULL)
		;
	fclose(fp);
	T_OK(audit_parse_line(line, strlen(line), &l, &why));
	T(l.seq == 5);
	T((buf = slurp(logpath)) != NULL);
	{
		struct audit_line f;

		*strchr(buf, '\n') = '\0';
		T_OK(audit_parse_line(buf, strlen(buf), &f, &why));
		T(f.seq == 6 && strcmp(f.prev, l.hash) == 0);
		audit_line_clear(&f);
	}
	audit_line_clear(&l);
	free(buf);
	T_OK(audit_verify(&conf, &r));
	T(r.records == 10 && r.last_seq == 10);
	audit_report_clear(&r);
	/* A whole rotated file removed from the middle is caught. */
	T_OK(audit_open(&conf, "a", &a));
	T_OK(audit_rotate(a));
	T_OK(record_n(a, 2, "c"));
	audit_close(a);
	snprintf(path, sizeof(path), "%s/audit-%020d.log", auditdir, 6);
	T(unlink(path) == 0);
	T(audit_verify(&conf, &r) == SF_EPARSE);
	T(strstr(r.why, "removed") != NULL);
	audit_report_clear(&r);
}

static void
follow_resume(void)
{
	struct audit_follow *f = NULL, *g = NULL;
	struct audit *a = NULL;
	struct audit_line l;
	const char *raw;
	size_t len;
	uint64_t want;

	fresh();
	T_OK(audit_open(&conf, "a", &a));
	T_OK(record_n(a, 4, "x"));
	T_OK(audit_rotate(a));
	T_OK(record_n(a, 4, "y"));
	/* Resume after 2: 3..8 across the rotated file and audit.log. */
	T_OK(audit_follow_open(&conf, 2, false, &f));
	for (want = 3; want <= 8; want++) {
		T_OK(audit_follow_next(f, &l, &raw, &len));
		T(l.seq == want && raw[0] == '{' && raw[len - 1] == '}');
		T_EQ_STR(l.type, "exchange");
		audit_line_clear(&l);
	}
	T(audit_follow_next(f, &l, &raw, &len) == SF_ENOTFOUND);
	/* From now: only what comes next. */
	T_OK(audit_follow_open(&conf, 0, false, &g));
	T(audit_follow_next(g, &l, &raw, &len) == SF_ENOTFOUND);
	T_OK(record_n(a, 1, "z"));
	T_OK(audit_follow_next(f, &l, &raw, &len));
	T(l.seq == 9);
	audit_line_clear(&l);
	T_OK(audit_follow_next(g, &l, &raw, &len));
	T(l.seq == 9);
	audit_line_clear(&l);
	/* Across a rotation while following. */
	T_OK(audit_rotate(a));
	T_OK(record_n(a, 2, "w"));
	T_OK(audit_follow_next(g, &l, &raw, &len));
	T(l.seq == 10);
	audit_line_clear(&l);
	T_OK(audit_follow_next(g, &l, &raw, &len));
	T(l.seq == 11);
	audit_line_clear(&l);
	T(audit_follow_fd(g) >= 0);
	audit_follow_close(f);
	audit_follow_close(g);
	audit_close(a);
}

static void
parse_rejects(void)
{
	struct audit_line l;
	const char *why;
	static const char *bad[] = {
		"",
		"{}",
		"not json at all, but long enough to pass the length check "
		    "of the suffix test, really quite long indeed",
		"{\"seq\":1,\"prev\":\"00\",\"hash\":\"0000000000000000000000"
		    "000000000000000000000000000000000000000000\"}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T(audit_parse_line(bad[i], strlen(bad[i]), &l, &why) ==
		    SF_EPARSE);
		T(why != NULL && l.obj == NULL);
	}
}

int
main(void)
{
	char cmd[160];
	int rc;

	t_prog = "audit";
	if (mkdtemp(base) == NULL)
		return 1;
	snprintf(rundir, sizeof(rundir), "%s/run", base);
	snprintf(auditdir, sizeof(auditdir), "%s/audit", base);
	snprintf(logpath, sizeof(logpath), "%s/audit.log", auditdir);
	conf.run_dir = rundir;
	conf.audit_dir = auditdir;
	RUN(chain_and_verify);
	RUN(record_format);
	RUN(detail_as_jansson);
	RUN(pid_after_fork);
	RUN(concurrent_processes);
	RUN(verify_detects_tampering);
	RUN(rotation_keeps_chain);
	RUN(follow_resume);
	RUN(parse_rejects);
	rc = T_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
	return rc;
}
