/*
 * audit.c - the hash-chained audit trail.
 *
 * Files (audit_dir):
 *   audit.log                  the current file, one JSON record a line
 *   audit-<first seq>.log      rotated files (20-digit seq), oldest first
 *
 * One chain for the whole unit.  Every record carries seq (1, 2, ...),
 * "prev" (the hash of the record before it; 64 zeros for seq 1) and
 * "hash", the SHA-256 of the record's own bytes from '{' through the
 * prev member.  An edited line fails its hash; a removed or reordered
 * line breaks the seq and prev links; the last line's removal shows
 * against the head kept in shared memory.  A rotated file's last hash is
 * the next file's first prev.
 *
 * Appending (audit_record): the record is formatted outside any lock;
 * then, under a robust process-shared mutex in run_dir/audit.shm (the
 * chain head: seq, hash, file generation), the seq, time and prev are
 * filled in, the hash taken, and the line written with ONE write(2) to
 * an O_APPEND descriptor.  So lines never interleave, and the lock is
 * held for a hash and a write to the page cache: no disk sync, no
 * reader, ever.  Durability: a thread in each writing process, started
 * at its first append, fdatasyncs the file once a second when it was
 * written ("synced within a second"), off the request path.
 *
 * Readers (audit verify, audit tail, events.fcgi) only read the files;
 * a slow reader cannot slow a writer.
 */
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "starfly.h"

#define AUDIT_MAGIC		0x5346415544495431ull	/* "SFAUDIT1" */
#define AUDIT_FIELD_MAX		1024	/* bytes of one string field */
#define AUDIT_LINE_MAX		(64 * 1024)
#define AUDIT_ROTATE_BYTES	(64ll * 1024 * 1024)
#define AUDIT_CUR		"audit.log"
#define AUDIT_SPIN_NS		20000	/* spin on a held head before sleeping */
#define HASH_HEX		64
#define PREV_LEN		(sizeof(",\"prev\":\"\"") - 1 + HASH_HEX)
#define SUFFIX_LEN		(sizeof(",\"hash\":\"\"}") - 1 + HASH_HEX)

static const char zero_hash[HASH_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";
static const char hexdigit[] = "0123456789abcdef";

struct audit_shm {
	uint64_t	 magic;
	pthread_mutex_t	 mu;
	uint64_t	 seq;		/* last written */
	char		 hash[HASH_HEX + 1];
	uint64_t	 gen;		/* bumped by each rotation */
	uint64_t	 cur_first;	/* first seq of audit.log, 0 empty */
	uint64_t	 cur_size;
};

struct audit {
	char		*dir;
	char		*cur;		/* dir/audit.log */
	char		*prog;
	struct audit_shm *shm;
	int		 shm_fd;
	int		 fd;		/* audit.log, O_APPEND */
	uint64_t	 gen;		/* of fd */
	/* Used under the head lock. */
	EVP_MD_CTX	*mdctx;
	time_t		 ts_sec;	/* of ts_str */
	size_t		 ts_len;	/* 0: ts_str not made */
	char		 ts_str[32];	/* ts_sec, RFC 3339 to the second */
	/* The sync thread of this process. */
	pthread_mutex_t	 mu;		/* guards fd, stop, cond */
	pthread_cond_t	 cond;
	pthread_t	 thread;
	pid_t		 sync_pid;	/* process that started it, or 0 */
	bool		 stop;
	uint32_t	 dirty;
};

/* Once a process: the SHA-256 implementation, fetched rather than looked
 * up again on each hash. */
static pthread_once_t	 once = PTHREAD_ONCE_INIT;
static EVP_MD		*sha256_md;	/* never freed */

static void
init_once(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * Formatting.  A record is built in one buffer, on the appender's stack
 * until it outgrows it: AUDIT_HEAD_MAX bytes kept free at the front for
 * seq and time (filled in under the lock, ending where the body
 * starts), then the body, prev and hash.  Not NUL-terminated.
 */
#define AUDIT_HEAD_MAX	\
    (sizeof("{\"seq\":,\"time\":\"\"") - 1 + SF_U64_DEC_MAX + 31)
#define AUDIT_STACK_BUF	4096

struct sbuf {
	char	*p;
	size_t	 len, cap;
	bool	 heap;		/* p is malloc'ed */
	bool	 failed;	/* an add failed: p is not the whole text */
};

static void
sb_init(struct sbuf *b, char *stack, size_t cap)
{
	b->p = stack;
	b->len = 0;
	b->cap = cap;
	b->heap = false;
	b->failed = false;
}

static void
sb_free(struct sbuf *b)
{
	if (b->heap)
		free(b->p);
}

/* Make room for n more bytes; false (and b->failed) when there is none. */
static bool
sb_grow(struct sbuf *b, size_t n)
{
	size_t want;
	char *np;

	if (b->failed)
		return false;
	want = (b->len + n) * 2;
	if (b->heap)
		np = realloc(b->p, want);
	else if ((np = malloc(want)) != NULL)
		memcpy(np, b->p, b->len);
	if (np == NULL) {
		b->failed = true;
		return false;
	}
	b->p = np;
	b->cap = want;
	b->heap = true;
	return true;
}

static inline bool
sb_reserve(struct sbuf *b, size_t n)
{
	return n <= b->cap - b->len || sb_grow(b, n);
}

static inline void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* A string literal. */
#define sb_lit(b, s)	sb_add((b), "" s, sizeof(s) - 1)

/* Bytes copied into a record's string fields as they are: printable
 * ASCII but '"' and '\\'. */
#define PLAIN_FIELD	1
#define P_	PLAIN_FIELD
static const unsigned char plain[256] = {
	/* 0x00-0x1f: none */
	[0x20] =
	P_, P_, 0, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_,
	P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_,
	P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_,
	P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, 0, P_, P_, P_,
	P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_,
	P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_,
	/* 0x7f-0xff: none */
};
#undef P_

/* \u and four lower-case hex digits of the control character c. */
static void
sb_u_esc(struct sbuf *b, unsigned char c)
{
	char esc[6];

	esc[0] = '\\';
	esc[1] = 'u';
	esc[2] = '0';
	esc[3] = '0';
	esc[4] = hexdigit[c >> 4];
	esc[5] = hexdigit[c & 15];
	sb_add(b, esc, sizeof(esc));
}

/*
 * A JSON string of at most AUDIT_FIELD_MAX input bytes (cut at a
 * character boundary, marked with "..."); invalid UTF-8 becomes U+FFFD;
 * NULL is null.
 */
static void
sb_json_str(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, lim, i, n;
	uint32_t cp;
	char esc[2];

	if (s == NULL) {
		sb_lit(b, "null");
		return;
	}
	len = strlen(s);
	lim = len < AUDIT_FIELD_MAX ? len : AUDIT_FIELD_MAX;
	sb_lit(b, "\"");
	for (i = 0; i < len; i += n) {
		if (i >= AUDIT_FIELD_MAX) {
			sb_lit(b, "...");
			break;
		}
		/* A run of plain printable ASCII goes in one copy. */
		for (n = 0; i + n < lim && (plain[p[i + n]] & PLAIN_FIELD); n++)
			;
		if (n > 0) {
			sb_add(b, s + i, n);
			continue;
		}
		n = json_utf8_seq(p + i, len - i, &cp);
		if (n == 0) {
			sb_lit(b, "\\ufffd");
			n = 1;
		} else if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			sb_add(b, esc, 2);
		} else if (p[i] < 0x20 || p[i] == 0x7f)
			sb_u_esc(b, p[i]);
		else
			sb_add(b, s + i, n);
	}
	sb_lit(b, "\"");
}

/* ,"name":<v as sb_json_str>; name is a literal that needs no escape. */
#define sb_member(b, name, v)	do {				\
	sb_lit((b), ",\"" name "\":");				\
	sb_json_str((b), (v));					\
} while (0)

static void
hex32(const unsigned char *md, char out[HASH_HEX + 1])
{
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hexdigit[md[i] >> 4];
		out[2 * i + 1] = hexdigit[md[i] & 15];
	}
	out[HASH_HEX] = '\0';
}

/*
 * The SHA-256 of p[0..len) in hex.  ctx, when not NULL, is used for it
 * (the caller's, reused from hash to hash).
 */
static int
sha256_hex(EVP_MD_CTX *ctx, const char *p, size_t len,
    char out[HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	int ok;

	if (pthread_once(&once, init_once) != 0 || sha256_md == NULL)
		return SF_ECRYPTO;
	if (ctx != NULL)
		ok = EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 &&
		    EVP_DigestUpdate(ctx, p, len) == 1 &&
		    EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	else
		ok = EVP_Digest(p, len, md, NULL, sha256_md, NULL) == 1;
	if (!ok)
		return SF_ECRYPTO;
	hex32(md, out);
	return SF_OK;
}

static bool
is_hex64(const char *s, size_t len)
{
	size_t i;

	if (len != HASH_HEX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * Now, RFC 3339 UTC with milliseconds, into out[32]; its length.  The
 * seconds part is kept in a and formatted again only when the second
 * changes.  Under the head lock.
 */
static size_t
rfc3339_ms(struct audit *a, char out[32])
{
	struct timespec ts;
	struct tm tm;
	unsigned int ms;
	size_t n, k;
	char frac[5];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (a->ts_len == 0 || ts.tv_sec != a->ts_sec) {
		a->ts_sec = ts.tv_sec;
		a->ts_len = gmtime_r(&ts.tv_sec, &tm) == NULL ? 0 :
		    strftime(a->ts_str, sizeof(a->ts_str),
		    "%Y-%m-%dT%H:%M:%S", &tm);
	}
	n = a->ts_len;
	memcpy(out, a->ts_str, n);
	ms = (unsigned int)(ts.tv_nsec / 1000000) % 1000u;
	frac[0] = '.';
	frac[1] = (char)('0' + ms / 100);
	frac[2] = (char)('0' + ms / 10 % 10);
	frac[3] = (char)('0' + ms % 10);
	frac[4] = 'Z';
	/* As snprintf would cut it (never, for a 4-digit year). */
	k = 31 - n < sizeof(frac) ? 31 - n : sizeof(frac);
	memcpy(out + n, frac, k);
	return n + k;
}

/*
 * Parsing (verify, tail, events).
 */
void
audit_line_clear(struct audit_line *l)
{
	if (l == NULL)
		return;
	json_decref(l->obj);
	memset(l, 0, sizeof(*l));
}

int
audit_parse_line(const char *line, size_t len, struct audit_line *out,
    const char **why)
{
	static const char suffix_head[] = ",\"hash\":\"";
	char hash[HASH_HEX + 1], *body = NULL, *jwhy = NULL;
	const char *h, *prev;
	json_t *obj = NULL, *v;
	size_t plen;
	int rc = SF_EPARSE;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > AUDIT_LINE_MAX) {
		*why = "line too long";
		return SF_EPARSE;
	}
	if (len < SUFFIX_LEN + 2 || line[0] != '{' ||
	    memcmp(line + len - 2, "\"}", 2) != 0) {
		*why = "not a record line";
		return SF_EPARSE;
	}
	plen = len - SUFFIX_LEN;
	h = line + plen + sizeof(suffix_head) - 1;
	if (memcmp(line + plen, suffix_head, sizeof(suffix_head) - 1) != 0 ||
	    !is_hex64(h, HASH_HEX)) {
		*why = "no \"hash\" member at the end";
		return SF_EPARSE;
	}
	if (sha256_hex(NULL, line, plen, hash) != SF_OK) {
		*why = "cannot hash";
		return SF_ECRYPTO;
	}
	if (!sf_memeq_ct(hash, h, HASH_HEX)) {
		*why = "hash does not match the line (edited)";
		return SF_EPARSE;
	}
	/* The hashed part, closed, must be one strict JSON object. */
	if ((body = malloc(plen + 2)) == NULL)
		return SF_ENOMEM;
	memcpy(body, line, plen);
	body[plen] = '}';
	body[plen + 1] = '\0';
	if ((rc = json_parse_strict(body, plen + 1, &obj, &jwhy)) != SF_OK) {
		*why = rc == SF_ENOMEM ? "out of memory" : "not strict JSON";
		goto out;
	}
	rc = SF_EPARSE;
	v = json_object_get(obj, "seq");
	if (!json_is_object(obj) || !json_is_integer(v) ||
	    json_integer_value(v) < 1) {
		*why = "no positive integer \"seq\"";
		goto out;
	}
	out->seq = (uint64_t)json_integer_value(v);
	prev = json_string_value(json_object_get(obj, "prev"));
	if (prev == NULL || !is_hex64(prev, strlen(prev))) {
		*why = "no 64-hex \"prev\"";
		goto out;
	}
	if (!json_is_string(json_object_get(obj, "time")) ||
	    !json_is_string(json_object_get(obj, "type"))) {
		*why = "no \"time\" or \"type\"";
		goto out;
	}
	memcpy(out->prev, prev, HASH_HEX + 1);
	memcpy(out->hash, hash, HASH_HEX + 1);
	out->type = json_string_value(json_object_get(obj, "type"));
	out->obj = obj;
	obj = NULL;
	rc = SF_OK;
out:
	json_decref(obj);
	free(jwhy);
	free(body);
	return rc;
}

/*
 * Files.
 */

/* Rotated file name -> its first seq; 0 when not one. */
static uint64_t
rotated_seq(const char *name)
{
	long long v;
	char digits[21];

	if (strlen(name) != 30 || strncmp(name, "audit-", 6) != 0 ||
	    strcmp(name + 26, ".log") != 0)
		return 0;
	memcpy(digits, name + 6, 20);
	digits[20] = '\0';
	if (sf_strtonum(digits, 1, INT64_MAX, &v) != SF_OK)
		return 0;
	return (uint64_t)v;
}

struct afile {
	char		*path;
	uint64_t	 first;		/* from the name; 0 for audit.log */
};

static int
afile_cmp(const void *a, const void *b)
{
	const struct afile *x = a, *y = b;

	/* audit.log (first 0) sorts last. */
	if (x->first == y->first)
		return 0;
	if (x->first == 0)
		return 1;
	if (y->first == 0)
		return -1;
	return x->first < y->first ? -1 : 1;
}

static void
afiles_free(struct afile *f, size_t n)
{
	size_t i;

	for (i = 0; f != NULL && i < n; i++)
		free(f[i].path);
	free(f);
}

/* Every file of the trail, oldest first, audit.log last (if present). */
static int
list_files(const char *dir, struct afile **out, size_t *nout)
{
	struct afile *f = NULL, *nf;
	struct dirent *de;
	size_t n = 0, cap = 0;
	uint64_t first;
	DIR *d;
	int rc = SF_OK;

	*out = NULL;
	*nout = 0;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? SF_ENOTFOUND : SF_ESYS;
	while ((de = readdir(d)) != NULL) {
		first = rotated_seq(de->d_name);
		if (first == 0 && strcmp(de->d_name, AUDIT_CUR) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nf = realloc(f, cap * sizeof(*f))) == NULL) {
				rc = SF_ENOMEM;
				break;
			}
			f = nf;
		}
		f[n].first = first;
		if (sf_asprintf(&f[n].path, "%s/%s", dir, de->d_name) !=
		    SF_OK) {
			rc = SF_ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc != SF_OK) {
		afiles_free(f, n);
		return rc;
	}
	if (n > 1)
		qsort(f, n, sizeof(*f), afile_cmp);
	*out = f;
	*nout = n;
	return SF_OK;
}

/*
 * The last complete line of the file at fd (read from its tail) into
 * out (new); SF_ENOTFOUND when it holds none.
 */
static int
last_line(int fd, char **out, size_t *outlen)
{
	struct stat st;
	off_t start;
	char *buf, *end, *p;
	ssize_t n;
	size_t len;

	*out = NULL;
	*outlen = 0;
	if (fstat(fd, &st) == -1)
		return SF_ESYS;
	if (st.st_size == 0)
		return SF_ENOTFOUND;
	start = st.st_size > AUDIT_LINE_MAX + 1 ?
	    st.st_size - (AUDIT_LINE_MAX + 1) : 0;
	len = (size_t)(st.st_size - start);
	if ((buf = malloc(len + 1)) == NULL)
		return SF_ENOMEM;
	if ((n = pread(fd, buf, len, start)) < 0) {
		free(buf);
		return SF_ESYS;
	}
	len = (size_t)n;
	buf[len] = '\0';
	/* Drop a partial last line, then take the one before it. */
	end = buf + len;
	while (end > buf && end[-1] != '\n')
		end--;
	if (end == buf) {
		free(buf);
		return SF_ENOTFOUND;
	}
	end--;			/* at the '\n' */
	p = end;
	while (p > buf && p[-1] != '\n')
		p--;
	len = (size_t)(end - p);
	memmove(buf, p, len);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return SF_OK;
}

/* The first line's seq of the file at path; 0 when empty or unreadable. */
static uint64_t
first_seq_of(const char *path)
{
	char buf[64];
	ssize_t n;
	long long v;
	size_t i;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 8 || strncmp(buf, "{\"seq\":", 7) != 0)
		return 0;
	buf[n] = '\0';
	for (i = 7; buf[i] >= '0' && buf[i] <= '9'; i++)
		;
	buf[i] = '\0';
	if (sf_strtonum(buf + 7, 1, INT64_MAX, &v) != SF_OK)
		return 0;
	return (uint64_t)v;
}

/*
 * Set the head from the files: the last line of the newest file that
 * has one.  Called under the mutex when the segment is new or its owner
 * died mid-append.
 */
static void
head_from_files(struct audit *a)
{
	struct audit_line l;
	struct afile *f = NULL;
	struct stat st;
	const char *why;
	char *line = NULL;
	size_t n = 0, len, i;
	int fd;

	a->shm->seq = 0;
	memcpy(a->shm->hash, zero_hash, sizeof(zero_hash));
	a->shm->cur_first = first_seq_of(a->cur);
	a->shm->cur_size = stat(a->cur, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (list_files(a->dir, &f, &n) != SF_OK)
		return;
	for (i = n; i-- > 0; ) {
		if ((fd = open(f[i].path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		if (last_line(fd, &line, &len) != SF_OK) {
			close(fd);
			continue;
		}
		close(fd);
		if (audit_parse_line(line, len, &l, &why) == SF_OK) {
			a->shm->seq = l.seq;
			memcpy(a->shm->hash, l.hash, sizeof(l.hash));
			audit_line_clear(&l);
		} else
			log_err("audit: last line of %s does not parse (%s); "
			    "the chain restarts and verify will show it",
			    f[i].path, why);
		free(line);
		break;
	}
	afiles_free(f, n);
}

static int
head_lock(struct audit *a)
{
	uint64_t until = 0;
	int rc, i;

	/*
	 * The head is held for one hash and one write(2), a few
	 * microseconds: spin that long on trylock before sleeping, since a
	 * futex wait and the holder's wake-up cost more (and a spinning
	 * waiter leaves the holder's unlock without a system call).
	 */
	for (i = 0; (rc = pthread_mutex_trylock(&a->shm->mu)) == EBUSY; i++) {
		if (i % 32 == 0) {
			if (until == 0)
				until = sf_mono_ns() + AUDIT_SPIN_NS;
			else if (sf_mono_ns() > until) {
				rc = pthread_mutex_lock(&a->shm->mu);
				break;
			}
		}
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	if (rc == EOWNERDEAD) {
		/* Its owner died mid-append: the files are the truth. */
		head_from_files(a);
		pthread_mutex_consistent(&a->shm->mu);
		return SF_OK;
	}
	return rc == 0 ? SF_OK : SF_ESYS;
}

static int
open_cur(struct audit *a)
{
	int fd;

	fd = open(a->cur, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0660);
	if (fd == -1) {
		log_err("audit: %s: %s", a->cur, strerror(errno));
		return SF_ESYS;
	}
	pthread_mutex_lock(&a->mu);
	if (a->fd != -1)
		close(a->fd);
	a->fd = fd;
	pthread_mutex_unlock(&a->mu);
	return SF_OK;
}

int
audit_open(const struct sf_conf *c, const char *prog, struct audit **out)
{
	pthread_mutexattr_t ma;
	struct audit *a;
	struct stat sb;
	char *path = NULL;
	void *p = MAP_FAILED;
	int rc = SF_ESYS, locked = 0;

	*out = NULL;
	if (c == NULL || c->audit_dir == NULL || c->run_dir == NULL)
		return SF_EINVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return SF_ENOMEM;
	a->fd = a->shm_fd = -1;
	pthread_mutex_init(&a->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&a->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if ((a->dir = sf_strdup(c->audit_dir)) == NULL ||
	    (a->prog = sf_strdup(prog ? prog : "starfly")) == NULL ||
	    sf_asprintf(&a->cur, "%s/%s", c->audit_dir, AUDIT_CUR) != SF_OK ||
	    sf_asprintf(&path, "%s/audit.shm", c->run_dir) != SF_OK ||
	    (a->mdctx = EVP_MD_CTX_new()) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (pthread_once(&once, init_once) != 0 || sha256_md == NULL) {
		rc = SF_ECRYPTO;
		goto out;
	}
	if ((a->shm_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660)) ==
	    -1 || lockf(a->shm_fd, F_LOCK, 0) == -1)
		goto out;
	locked = 1;
	if (fstat(a->shm_fd, &sb) == -1 ||
	    ((size_t)sb.st_size < sizeof(struct audit_shm) &&
	    ftruncate(a->shm_fd, (off_t)sizeof(struct audit_shm)) == -1))
		goto out;
	p = mmap(NULL, sizeof(struct audit_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, a->shm_fd, 0);
	if (p == MAP_FAILED)
		goto out;
	a->shm = p;
	if (a->shm->magic != AUDIT_MAGIC) {
		pthread_mutexattr_init(&ma);
		pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
		pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
		rc = pthread_mutex_init(&a->shm->mu, &ma);
		pthread_mutexattr_destroy(&ma);
		if (rc != 0) {
			rc = SF_ESYS;
			goto out;
		}
		head_from_files(a);
		a->shm->gen = 1;
		a->shm->magic = AUDIT_MAGIC;
	}
	a->gen = a->shm->gen;
	if ((rc = open_cur(a)) != SF_OK)
		goto out;
	rc = SF_OK;
out:
	if (locked) {
		(void)lseek(a->shm_fd, 0, SEEK_SET);
		(void)lockf(a->shm_fd, F_ULOCK, 0);
	}
	if (rc != SF_OK) {
		log_err("audit %s: %s", path ? path : c->audit_dir,
		    rc == SF_ESYS ? strerror(errno) : sf_strerror(rc));
		if (p != MAP_FAILED)
			a->shm = p;
		else
			a->shm = NULL;
		audit_close(a);
		a = NULL;
	}
	free(path);
	*out = a;
	return rc;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->sync_pid != 0 && a->sync_pid == sf_getpid()) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->cond);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	/* A clean exit syncs what the thread had not. */
	if (a->fd != -1 && __atomic_load_n(&a->dirty, __ATOMIC_RELAXED))
		(void)fdatasync(a->fd);
	if (a->shm != NULL)
		munmap(a->shm, sizeof(struct audit_shm));
	if (a->shm_fd != -1)
		close(a->shm_fd);
	if (a->fd != -1)
		close(a->fd);
	free(a->dir);
	free(a->cur);
	free(a->prog);
	EVP_MD_CTX_free(a->mdctx);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* Once a second: fdatasync the file if this process wrote to it. */
static void *
sync_thread(void *arg)
{
	struct audit *a = arg;
	struct timespec until;
	int fd;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		while (!a->stop && pthread_cond_timedwait(&a->cond, &a->mu,
		    &until) == 0)
			;
		if (a->stop ||
		    !__atomic_exchange_n(&a->dirty, 0, __ATOMIC_ACQ_REL))
			continue;
		fd = a->fd != -1 ? dup(a->fd) : -1;
		pthread_mutex_unlock(&a->mu);
		if (fd != -1) {
			if (fdatasync(fd) == -1)
				log_err("audit: fdatasync: %s",
				    strerror(errno));
			close(fd);
		}
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Start this process's sync thread (after a fork, again). */
static void
sync_start(struct audit *a)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pid_t me = sf_getpid();

	if (a->sync_pid == me)
		return;
	if (a->sync_pid != 0) {
		/* Forked: the parent's thread and lock state stay there. */
		pthread_mutex_init(&a->mu, NULL);
	}
	a->sync_pid = me;
	a->stop = false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* signals stay ours */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pthread_create(&a->thread, &attr, sync_thread, a) != 0) {
		log_err("audit: cannot start the sync thread; the kernel "
		    "writes back on its own schedule");
		a->sync_pid = 0;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Under the head lock: move audit.log aside and start a new file. */
static int
rotate_locked(struct audit *a)
{
	char *to = NULL;
	int rc;

	if (a->shm->cur_first == 0)
		return SF_OK;	/* empty: nothing to rotate */
	if (sf_asprintf(&to, "%s/audit-%020" PRIu64 ".log", a->dir,
	    a->shm->cur_first) != SF_OK)
		return SF_ENOMEM;
	if (rename(a->cur, to) == -1) {
		log_err("audit: rename %s: %s", a->cur, strerror(errno));
		free(to);
		return SF_ESYS;
	}
	free(to);
	a->shm->cur_first = 0;
	a->shm->cur_size = 0;
	a->shm->gen++;
	if ((rc = open_cur(a)) != SF_OK)
		return rc;
	a->gen = a->shm->gen;
	return SF_OK;
}

int
audit_rotate(struct audit *a)
{
	int rc;

	if (a == NULL)
		return SF_EINVAL;
	if ((rc = head_lock(a)) != SF_OK)
		return rc;
	if (a->gen != a->shm->gen && (rc = open_cur(a)) == SF_OK)
		a->gen = a->shm->gen;
	if (rc == SF_OK)
		rc = rotate_locked(a);
	pthread_mutex_unlock(&a->shm->mu);
	return rc;
}

/* json_dump_callback into an sbuf. */
static int
sb_dump(const char *s, size_t n, void *arg)
{
	struct sbuf *b = arg;

	sb_add(b, s, n);
	return b->failed ? -1 : 0;
}

/* n bytes of s put just before *pp, moving *pp back to them. */
static void
put_before(char **pp, const char *s, size_t n)
{
	*pp -= n;
	memcpy(*pp, s, n);
}

/* The record's members after seq and time, before prev. */
static int
format_body(struct audit *a, const char *request_id, const char *type,
    const char *action, const char *subject, const char *target,
    const char *decision, const char *reason, const json_t *extra,
    struct sbuf *b)
{
	char pid[SF_U64_DEC_MAX], *p;
	size_t start;

	sb_member(b, "request_id", request_id);
	sb_member(b, "program", a->prog);
	sb_lit(b, ",\"pid\":");
	p = sf_u64_dec(pid + sizeof(pid), (uint64_t)sf_getpid());
	sb_add(b, p, (size_t)(pid + sizeof(pid) - p));
	sb_member(b, "type", type ? type : "other");
	sb_member(b, "action", action);
	sb_member(b, "subject", subject);
	sb_member(b, "target", target);
	sb_member(b, "decision", decision);
	sb_member(b, "reason", reason);
	if (json_is_object(extra) && json_object_size(extra) > 0) {
		sb_lit(b, ",\"detail\":");
		start = b->len;
		if (json_write_compact(extra, true, sb_dump, b) != SF_OK) {
			/* Written, or refused, as json_dumps would. */
			b->len = start;
			b->failed = false;
			if (json_dump_callback(extra, sb_dump, b,
			    JSON_COMPACT | JSON_ENSURE_ASCII) != 0)
				return SF_ENOMEM;
		}
		if (b->len - start > AUDIT_LINE_MAX / 2) {
			b->len = start;
			sb_lit(b, "{\"truncated\":true}");
		}
	}
	return b->failed ? SF_ENOMEM : SF_OK;
}

/*
 * {"seq":seq,"time":"<now>" in the AUDIT_HEAD_MAX bytes before end; its
 * first byte.  Under the head lock.
 */
static char *
format_head(struct audit *a, uint64_t seq, char *end)
{
	char ts[32], *h = end;

	put_before(&h, "\"", 1);
	put_before(&h, ts, rfc3339_ms(a, ts));
	put_before(&h, ",\"time\":\"", sizeof(",\"time\":\"") - 1);
	h = sf_u64_dec(h, seq);
	put_before(&h, "{\"seq\":", sizeof("{\"seq\":") - 1);
	return h;
}

int
audit_record(struct audit *a, const char *request_id, const char *type,
    const char *action, const char *subject, const char *target,
    const char *decision, const char *reason, const json_t *extra)
{
	struct sbuf b;
	char stack[AUDIT_STACK_BUF], hash[HASH_HEX + 1], *line;
	uint64_t t0 = sf_mono_ns(), seq;
	size_t len;
	ssize_t n;
	int rc;

	if (a == NULL)
		return SF_OK;
	sb_init(&b, stack, sizeof(stack));
	b.len = AUDIT_HEAD_MAX;
	if ((rc = format_body(a, request_id, type, action, subject, target,
	    decision, reason, extra, &b)) != SF_OK)
		goto out;
	/* Room for prev and hash now: nothing is allocated under the lock. */
	if (!sb_reserve(&b, PREV_LEN + SUFFIX_LEN + 1)) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((rc = head_lock(a)) != SF_OK)
		goto out;
	/* Another process rotated: write to the new audit.log. */
	if (a->gen != a->shm->gen) {
		if ((rc = open_cur(a)) != SF_OK)
			goto unlock;
		a->gen = a->shm->gen;
	}
	if (a->shm->cur_size >= (uint64_t)AUDIT_ROTATE_BYTES &&
	    (rc = rotate_locked(a)) != SF_OK)
		goto unlock;
	seq = a->shm->seq + 1;
	line = format_head(a, seq, b.p + AUDIT_HEAD_MAX);
	sb_lit(&b, ",\"prev\":\"");
	sb_add(&b, a->shm->hash, HASH_HEX);
	sb_lit(&b, "\"");
	if ((rc = sha256_hex(a->mdctx, line, (size_t)(b.p + b.len - line),
	    hash)) != SF_OK)
		goto unlock;
	sb_lit(&b, ",\"hash\":\"");
	sb_add(&b, hash, HASH_HEX);
	sb_lit(&b, "\"}\n");
	len = (size_t)(b.p + b.len - line);
	n = write(a->fd, line, len);
	if (n != (ssize_t)len) {
		log_err("audit: write %s: %s", a->cur, n < 0 ?
		    strerror(errno) : "short write");
		/* Never leave half a line for the next record to follow. */
		if (n > 0 && ftruncate(a->fd, (off_t)a->shm->cur_size) == -1)
			log_err("audit: cannot cut the short write");
		rc = SF_EIO;
		goto unlock;
	}
	if (a->shm->cur_first == 0)
		a->shm->cur_first = seq;
	a->shm->cur_size += len;
	a->shm->seq = seq;
	memcpy(a->shm->hash, hash, sizeof(hash));
	rc = SF_OK;
unlock:
	pthread_mutex_unlock(&a->shm->mu);
	if (rc == SF_OK) {
		__atomic_store_n(&a->dirty, 1, __ATOMIC_RELEASE);
		sync_start(a);
	}
out:
	metrics_audit(metrics_default(), type, rc == SF_OK,
	    sf_mono_ns() - t0);
	sb_free(&b);
	return rc;
}

/*
 * Verify.
 */
void
audit_report_clear(struct audit_report *r)
{
	if (r == NULL)
		return;
	free(r->file);
	free(r->why);
	memset(r, 0, sizeof(*r));
}

static int
broken(struct audit_report *r, const char *file, uint64_t line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
broken(struct audit_report *r, const char *file, uint64_t line,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->file = sf_strdup(file);
	r->line = line;
	r->why = sf_strdup(msg);
	return SF_EPARSE;
}

/* The head the unit wrote (0: unknown), read under no lock. */
static uint64_t
head_seq(const struct sf_conf *c)
{
	struct audit_shm s;
	char *path = NULL;
	ssize_t n;
	int fd;

	if (sf_asprintf(&path, "%s/audit.shm", c->run_dir) != SF_OK)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return 0;
	n = pread(fd, &s, sizeof(s), 0);
	close(fd);
	if (n != (ssize_t)sizeof(s) || s.magic != AUDIT_MAGIC)
		return 0;
	return s.seq;
}

/* Verify one file, continuing the chain in *seq / prev. */
static int
verify_file(const char *path, struct audit_report *r, bool *started)
{
	struct audit_line l;
	const char *why;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	FILE *fp;
	int rc = SF_OK;

	if ((fp = fopen(path, "re")) == NULL)
		return broken(r, path, 0, "cannot open: %s", strerror(errno));
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n == 0 || line[n - 1] != '\n') {
			rc = broken(r, path, lineno, "last line is cut short "
			    "(no newline)");
			break;
		}
		if ((rc = audit_parse_line(line, (size_t)n, &l, &why)) !=
		    SF_OK) {
			rc = broken(r, path, lineno, "%s", why);
			break;
		}
		if (!*started) {
			*started = true;
			r->first_seq = l.seq;
			if (l.seq == 1 && strcmp(l.prev, zero_hash) != 0) {
				rc = broken(r, path, lineno, "seq 1 does not "
				    "start the chain (prev is not zero)");
				audit_line_clear(&l);
				break;
			}
		} else if (l.seq != r->last_seq + 1) {
			rc = broken(r, path, lineno, "seq %" PRIu64 " follows "
			    "seq %" PRIu64 " (%s)", l.seq, r->last_seq,
			    l.seq > r->last_seq ? "records removed" :
			    "records reordered or repeated");
			audit_line_clear(&l);
			break;
		} else if (strcmp(l.prev, r->last_hash) != 0) {
			rc = broken(r, path, lineno, "seq %" PRIu64 " does not "
			    "link to the record before it", l.seq);
			audit_line_clear(&l);
			break;
		}
		r->records++;
		r->last_seq = l.seq;
		memcpy(r->last_hash, l.hash, sizeof(l.hash));
		audit_line_clear(&l);
	}
	free(line);
	fclose(fp);
	return rc;
}

int
audit_verify(const struct sf_conf *c, struct audit_report *r)
{
	struct afile *f = NULL;
	size_t n = 0, i;
	bool started = false;
	int rc;

	memset(r, 0, sizeof(*r));
	if (c == NULL || c->audit_dir == NULL)
		return SF_EINVAL;
	r->head_seq = head_seq(c);
	if ((rc = list_files(c->audit_dir, &f, &n)) != SF_OK) {
		if (rc == SF_ENOTFOUND)
			return broken(r, c->audit_dir, 0, "no audit directory");
		return rc;
	}
	for (i = 0; i < n; i++) {
		/* The chain runs on across files (verify_file). */
		if ((rc = verify_file(f[i].path, r, &started)) != SF_OK)
			goto out;
	}
	if (r->head_seq > r->last_seq) {
		rc = broken(r, n > 0 ? f[n - 1].path : c->audit_dir,
		    r->records, "the trail ends at seq %" PRIu64 " but the "
		    "unit wrote up to seq %" PRIu64 " (records removed from "
		    "the end)", r->last_seq, r->head_seq);
		goto out;
	}
	rc = SF_OK;
out:
	afiles_free(f, n);
	return rc;
}

/*
 * Following.
 */
struct audit_follow {
	char		*dir;
	char		*cur;
	int		 ino_fd;	/* inotify */
	int		 fd;		/* file being read */
	bool		 on_cur;	/* fd is audit.log as opened */
	ino_t		 ino;
	uint64_t	 next;		/* first seq wanted, 0: any */
	char		*buf;
	size_t		 len, off, cap;
};

/*
 * seq and type of a line this module wrote, without the hash or a JSON
 * parse.  The members before "type" are ours (no quotes inside), so the
 * first ,"type":" is the record's own.
 */
static int
peek_line(const char *line, size_t len, struct audit_line *out)
{
	static const char tk[] = ",\"type\":\"";
	const char *p, *end = line + len, *t;
	uint64_t seq = 0;
	size_t n;

	if (len < 9 || memcmp(line, "{\"seq\":", 7) != 0)
		return SF_EPARSE;
	for (p = line + 7; p < end && *p >= '0' && *p <= '9'; p++) {
		if (seq > (UINT64_MAX - 9) / 10)
			return SF_EPARSE;
		seq = seq * 10 + (uint64_t)(*p - '0');
	}
	if (seq == 0 || p == end || *p != ',')
		return SF_EPARSE;
	out->seq = seq;
	if ((t = memmem(line, len, tk, sizeof(tk) - 1)) != NULL) {
		t += sizeof(tk) - 1;
		for (n = 0; t + n < end && t[n] != '"' &&
		    n + 1 < sizeof(out->typebuf); n++)
			out->typebuf[n] = t[n];
		out->typebuf[n] = '\0';
		out->type = out->typebuf;
	}
	return SF_OK;
}

/* Open the file holding seq want (0: audit.log from its start). */
static int
follow_locate(struct audit_follow *f, uint64_t want)
{
	struct afile *fl = NULL;
	struct stat st;
	size_t n = 0, i, pick = SIZE_MAX;
	uint64_t first, best = 0;
	int rc, fd;

	if (want != 0) {
		if ((rc = list_files(f->dir, &fl, &n)) != SF_OK)
			return rc;
		for (i = 0; i < n; i++) {
			first = fl[i].first != 0 ? fl[i].first :
			    first_seq_of(fl[i].path);
			if (first == 0 && fl[i].first == 0)
				first = UINT64_MAX;	/* empty audit.log */
			if (first <= want && (pick == SIZE_MAX ||
			    first >= best)) {
				pick = i;
				best = first;
			}
		}
		if (pick == SIZE_MAX && n > 0)
			pick = 0;	/* older records were removed */
	}
	if (pick == SIZE_MAX || fl[pick].first == 0) {
		fd = open(f->cur, O_RDONLY | O_CLOEXEC);
		f->on_cur = true;
	} else {
		fd = open(fl[pick].path, O_RDONLY | O_CLOEXEC);
		f->on_cur = false;
	}
	afiles_free(fl, n);
	if (fd == -1)
		return errno == ENOENT ? SF_ENOTFOUND : SF_ESYS;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return SF_ESYS;
	}
	if (f->fd != -1 && st.st_ino == f->ino) {
		close(fd);
		return SF_ENOTFOUND;	/* the file in hand: nothing new */
	}
	if (f->fd != -1)
		close(f->fd);
	f->fd = fd;
	f->ino = st.st_ino;
	f->len = f->off = 0;
	return SF_OK;
}

int
audit_follow_open(const struct sf_conf *c, uint64_t after, bool from_start,
    struct audit_follow **out)
{
	struct audit_follow *f;
	int rc;

	*out = NULL;
	if (c == NULL || c->audit_dir == NULL)
		return SF_EINVAL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return SF_ENOMEM;
	f->fd = f->ino_fd = -1;
	if ((f->dir = sf_strdup(c->audit_dir)) == NULL ||
	    sf_asprintf(&f->cur, "%s/%s", c->audit_dir, AUDIT_CUR) != SF_OK ||
	    (f->buf = malloc(f->cap = 65536)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	f->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ino_fd == -1 && (errno == EMFILE || errno == ENFILE)) {
		/*
		 * fs.inotify.max_user_instances (128 by default) is spent:
		 * follow by polling instead (audit_follow_fd is -1).
		 */
		log_warn("audit: no inotify instance left (raise "
		    "fs.inotify.max_user_instances); polling %s", f->dir);
	} else if (f->ino_fd == -1 || inotify_add_watch(f->ino_fd, f->dir,
	    IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM) == -1) {
		log_err("audit: inotify on %s: %s", f->dir, strerror(errno));
		rc = SF_ESYS;
		goto out;
	}
	if (after > 0 || from_start) {
		f->next = after > 0 ? after + 1 : 1;
		rc = follow_locate(f, f->next);
	} else {
		rc = follow_locate(f, 0);
		if (rc == SF_OK && lseek(f->fd, 0, SEEK_END) == -1)
			rc = SF_ESYS;
	}
	if (rc == SF_ENOTFOUND)
		rc = SF_OK;	/* no audit.log yet: it comes with a record */
out:
	if (rc != SF_OK) {
		audit_follow_close(f);
		return rc;
	}
	*out = f;
	return SF_OK;
}

int
audit_follow_fd(const struct audit_follow *f)
{
	return f != NULL ? f->ino_fd : -1;
}

/* Drain queued inotify events (they only say "look again"). */
static void
drain_inotify(struct audit_follow *f)
{
	char evbuf[4096];

	while (f->ino_fd != -1 && read(f->ino_fd, evbuf, sizeof(evbuf)) > 0)
		;
}

/* Where the next line comes from once fd is at its end. */
static int
follow_switch(struct audit_follow *f, bool *moved)
{
	struct stat st;
	int rc;

	*moved = false;
	if (f->fd != -1 && f->on_cur && stat(f->cur, &st) == 0 &&
	    st.st_ino == f->ino)
		return SF_OK;	/* still the current file: wait */
	if (f->fd != -1 && f->on_cur && stat(f->cur, &st) == -1)
		return SF_OK;	/* between rename and create */
	if (f->fd != -1 && f->len > f->off)
		return SF_OK;	/* a partial line: the rest may come */
	rc = follow_locate(f, f->next);
	if (rc == SF_ENOTFOUND)
		return SF_OK;
	if (rc == SF_OK)
		*moved = true;
	return rc;
}

int
audit_follow_next(struct audit_follow *f, struct audit_line *line,
    const char **raw, size_t *rawlen)
{
	char *nl;
	ssize_t n;
	size_t ll;
	bool moved;
	int rc, tries = 0;

	memset(line, 0, sizeof(*line));
	*raw = NULL;
	*rawlen = 0;
	drain_inotify(f);
	for (;;) {
		/* A complete line in the buffer? */
		nl = f->len > f->off ? memchr(f->buf + f->off, '\n',
		    f->len - f->off) : NULL;
		if (nl != NULL) {
			ll = (size_t)(nl - (f->buf + f->off));
			*nl = '\0';
			memset(line, 0, sizeof(*line));
			rc = peek_line(f->buf + f->off, ll, line);
			*raw = f->buf + f->off;
			*rawlen = ll;
			f->off += ll + 1;
			if (rc != SF_OK)
				continue;	/* verify reports it */
			if (f->next != 0 && line->seq < f->next) {
				audit_line_clear(line);
				continue;
			}
			f->next = line->seq + 1;
			return SF_OK;
		}
		/* Keep the partial line at the front; read more. */
		if (f->off > 0) {
			memmove(f->buf, f->buf + f->off, f->len - f->off);
			f->len -= f->off;
			f->off = 0;
		}
		if (f->len == f->cap) {
			/* A line past AUDIT_LINE_MAX: drop it. */
			f->len = 0;
		}
		n = f->fd == -1 ? 0 : read(f->fd, f->buf + f->len,
		    f->cap - f->len);
		if (n < 0)
			return SF_EIO;
		if (n > 0) {
			f->len += (size_t)n;
			continue;
		}
		if (++tries > 4)
			return SF_ENOTFOUND;
		if ((rc = follow_switch(f, &moved)) != SF_OK)
			return rc;
		if (!moved)
			return SF_ENOTFOUND;
	}
}

void
audit_follow_close(struct audit_follow *f)
{
	if (f == NULL)
		return;
	if (f->fd != -1)
		close(f->fd);
	if (f->ino_fd != -1)
		close(f->ino_fd);
	free(f->buf);
	free(f->dir);
	free(f->cur);
	free(f);
}
