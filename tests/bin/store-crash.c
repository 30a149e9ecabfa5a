/*
 * store-crash - kill -9 proof for lib/store.c (driven by
 * tests/suites/store-crash.sh).
 *
 *	store-crash write DB LOG RUN [N MODE]	write until killed
 *	store-crash check DB LOG NAME		verify; prints PASS/FAIL NAME
 *
 * With N and MODE the writer kills itself at its N-th write(2) to the
 * database files (store_killpoint.h; MODE 0 before the write, 1 after
 * half of it, 2 after it): in an update, or on odd runs possibly in the
 * repair store_open makes, which MODE 3 cuts right after its rename
 * (even runs take MODE 3 as 0); without them the script kills it from
 * outside at a random moment.
 *
 * The writer appends to LOG, each line with one write(2) on an O_APPEND
 * descriptor (so a kill never leaves half a line):
 *	"S run"			start of a run
 *	"R n"			repairs store_open made (stats.recoveries)
 *	"W ns key value"	about to put
 *	"X ns key"		about to delete
 *	"A"			the op above returned SF_OK
 *	"F code"		the op above failed
 *	"E code"		store_open failed
 * Ops: new keys of varied sizes (some over a page, to cross page
 * boundaries and split buckets), replacements of 16 hot keys with values
 * of the same, a smaller or a larger size (GDBM may reuse the old
 * record's space) and deletes.
 *
 * The checker replays the log: an acknowledged op fixes the key's value;
 * an op without "A" (killed in flight) allows either the old or the new
 * value.  The store must open, every key must hold an allowed value, no
 * other key may exist, and no op may have failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "store_killpoint.h"

#define MAX_OPS		200000
#define DELETED		"\001deleted"

static int logfd = -1;

static void
logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logline(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    write(logfd, buf, (size_t)n) != n)
		_exit(3);
}

/* A value of len bytes of [a-z0-9] derived from run and i. */
static void
make_value(char *buf, size_t len, long long run, long long i)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned int x = (unsigned int)(run * 7919 + i * 104729 + 17);
	size_t j;

	for (j = 0; j < len; j++) {
		x = x * 1103515245u + 12345u;
		buf[j] = al[(x >> 16) % (sizeof(al) - 1)];
	}
	buf[len] = '\0';
}

static int
do_write(const char *db, const char *log, long long run, long long killat,
    int mode)
{
	struct store_stats s;
	struct store *st;
	char key[64], val[4200];
	long long i;
	size_t len;
	int rc;

	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd == -1)
		return 2;
	logline("S %lld\n", run);
	/*
	 * Odd runs may be cut inside the repair store_open makes; MODE 3
	 * cuts it right after it renames the rebuilt file into place.
	 */
	if (killat > 0 && run % 2 == 1 && mode == 3)
		killpoint_arm_rename(db);
	else if (killat > 0 && run % 2 == 1)
		killpoint_arm(db, (long)killat, mode);
	if ((rc = store_open(db, true, &st)) != SF_OK) {
		logline("E %d\n", rc);
		return 1;
	}
	store_get_stats(st, &s);
	logline("R %llu\n", (unsigned long long)s.recoveries);
	if (killat > 0 && run % 2 == 0)
		killpoint_arm(db, (long)killat, mode % (KP_AFTER + 1));
	for (i = 0; i < MAX_OPS; i++) {
		switch (i % 10) {
		case 7:
		case 8:
			/*
			 * Replacements that keep, shrink or grow the value:
			 * GDBM may write a new value over the old one.
			 */
			snprintf(key, sizeof(key), "h%lld", (i / 10) % 16);
			len = (i % 20 == 7) ? 64 :
			    16 + (size_t)((i * 53) % 300);
			make_value(val, len, run, i);
			logline("W hot %s %s\n", key, val);
			rc = store_put(st, "hot", key, val, len, STORE_REPLACE);
			break;
		case 9:
			snprintf(key, sizeof(key), "k%lld-%lld", run, i - 9);
			logline("X tool %s\n", key);
			rc = store_del(st, "tool", key);
			break;
		default:
			snprintf(key, sizeof(key), "k%lld-%lld", run, i);
			len = (i % 13 == 0) ? 4100 + (size_t)(i % 90) :
			    10 + (size_t)((i * 37) % 700);
			make_value(val, len, run, i);
			logline("W tool %s %s\n", key, val);
			rc = store_put(st, "tool", key, val, len,
			    STORE_INSERT);
			break;
		}
		if (rc == SF_OK)
			logline("A\n");
		else
			logline("F %d\n", rc);
	}
	store_close(st);
	return 0;
}

/*
 * The checker's model: json object "ns/key" -> array of allowed values
 * (DELETED for absent).
 */
struct model {
	json_t		*keys;
	char		*pend_key;	/* op awaiting its "A" */
	char		*pend_val;
	long		 acked, inflight, failed, open_failed, runs;
	unsigned long long repairs;
};

static int
model_settle(struct model *m, bool acked)
{
	json_t *allowed;

	if (m->pend_key == NULL)
		return 0;
	allowed = json_object_get(m->keys, m->pend_key);
	if (allowed == NULL || acked) {
		allowed = json_array();
		if (allowed == NULL ||
		    json_object_set_new(m->keys, m->pend_key, allowed) != 0)
			return -1;
		if (!acked)	/* never written before: absent allowed */
			json_array_append_new(allowed, json_string(DELETED));
	}
	if (json_array_append_new(allowed, json_string(m->pend_val)) != 0)
		return -1;
	if (acked)
		m->acked++;
	else
		m->inflight++;
	free(m->pend_key);
	free(m->pend_val);
	m->pend_key = m->pend_val = NULL;
	return 0;
}

static int
model_line(struct model *m, char *line)
{
	char *ns, *key, *val, *save = NULL;

	switch (line[0]) {
	case 'S':
		m->runs++;
		return model_settle(m, false);
	case 'R':
		m->repairs += strtoull(line + 2, NULL, 10);
		return 0;
	case 'E':
		m->open_failed++;
		return model_settle(m, false);
	case 'A':
		return model_settle(m, true);
	case 'F':
		m->failed++;
		return model_settle(m, false);
	case 'W':
	case 'X':
		if (model_settle(m, false) != 0)
			return -1;
		ns = strtok_r(line + 2, " ", &save);
		key = strtok_r(NULL, " ", &save);
		val = line[0] == 'W' ? strtok_r(NULL, " ", &save) : DELETED;
		if (ns == NULL || key == NULL || val == NULL)
			return -1;
		if (sf_asprintf(&m->pend_key, "%s/%s", ns, key) != SF_OK ||
		    (m->pend_val = sf_strdup(val)) == NULL)
			return -1;
		return 0;
	default:
		return -1;
	}
}

static int
do_check(const char *db, const char *log, const char *name)
{
	struct store_stats s;
	struct model m;
	struct store *st = NULL;
	const char *k, *actual;
	json_t *allowed, *a;
	char *buf = NULL, *line, *save = NULL, *v, *slash, nsb[64];
	size_t len, idx;
	long bad = 0, present = 0;
	int rc, ok;

	memset(&m, 0, sizeof(m));
	if ((m.keys = json_object()) == NULL ||
	    sf_read_file(log, 256u << 20, &buf, &len) != SF_OK) {
		printf("FAIL %s: cannot read %s\n", name, log);
		return 1;
	}
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (model_line(&m, line) != 0) {
			printf("FAIL %s: bad log line \"%.40s\"\n", name, line);
			return 1;
		}
	if (model_settle(&m, false) != 0)
		return 1;
	if ((rc = store_open(db, false, &st)) != SF_OK) {
		printf("FAIL %s: the store does not open after the kills: %s\n",
		    name, sf_strerror(rc));
		return 1;
	}
	json_object_foreach(m.keys, k, allowed) {
		snprintf(nsb, sizeof(nsb), "%s", k);
		if ((slash = strchr(nsb, '/')) == NULL)
			return 1;
		*slash = '\0';
		rc = store_get(st, nsb, k + (slash - nsb) + 1, &v, &len);
		actual = rc == SF_OK ? v : rc == SF_ENOTFOUND ? DELETED : NULL;
		ok = 0;
		json_array_foreach(allowed, idx, a)
			if (actual != NULL && strcmp(json_string_value(a),
			    actual) == 0)
				ok = 1;
		if (!ok && bad++ < 5)
			fprintf(stderr, "%s: %s: %s, none of the %zu allowed "
			    "states\n", name, k, rc == SF_OK ? "wrong value" :
			    sf_strerror(rc), json_array_size(allowed));
		if (rc == SF_OK) {
			present++;
			free(v);
		}
	}
	store_get_stats(st, &s);
	m.repairs += s.recoveries;
	store_close(st);
	free(buf);
	if (bad || m.failed || m.open_failed) {
		printf("FAIL %s: %ld keys with a value never written or lost, "
		    "%ld failed ops, %ld failed opens (%ld runs, %ld acked)\n",
		    name, bad, m.failed, m.open_failed, m.runs, m.acked);
		return 1;
	}
	printf("PASS %s: %ld writer runs killed with SIGKILL, %ld acked ops "
	    "all intact, %ld ops cut in flight, %ld keys present, %llu "
	    "repairs\n", name, m.runs, m.acked, m.inflight, present,
	    m.repairs);
	json_decref(m.keys);
	return 0;
}

int
main(int argc, char *argv[])
{
	long long run, killat = 0, mode = KP_BEFORE;

	log_init("store-crash", 0, SF_LOG_WARN);
	if ((argc == 5 || argc == 7) && strcmp(argv[1], "write") == 0 &&
	    sf_strtonum(argv[4], 0, 1000000, &run) == SF_OK &&
	    (argc == 5 || (sf_strtonum(argv[5], 1, 100000000, &killat) ==
	    SF_OK && sf_strtonum(argv[6], KP_BEFORE, KP_AFTER + 1, &mode) ==
	    SF_OK)))
		return do_write(argv[2], argv[3], run, killat, (int)mode);
	if (argc == 5 && strcmp(argv[1], "check") == 0)
		return do_check(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: store-crash write DB LOG RUN [N MODE] | "
	    "check DB LOG NAME\n");
	return 2;
}
