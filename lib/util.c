/*
 * util.c - error names, secrets, numbers, time, randomness and files.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "starfly.h"

static const char *const err_names[] = {
	"success",
	"out of memory",
	"system error",
	"invalid input",
	"parse error",
	"too large",
	"not found",
	"already exists",
	"busy",
	"store error",
	"cryptographic failure",
	"bad signature",
	"algorithm refused",
	"unusable key",
	"expired",
	"not yet valid",
	"bad claim",
	"configuration error",
	"policy error",
	"limit reached",
	"revoked",
	"denied",
	"sealed",
	"replayed",
	"I/O error",
	"not supported",
};

const char *
sf_strerror(int err)
{
	if (err > 0 || err < SF_ERR_LAST)
		return "unknown error";
	return err_names[-err];
}

bool
sf_memeq_ct(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool
sf_streq_ct(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return false;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}

void
sf_freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void
sf_strfree_secret(char *s)
{
	if (s != NULL)
		sf_freezero(s, strlen(s));
}

char *
sf_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

char *
sf_strndup(const char *s, size_t n)
{
	char *p;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

size_t
sf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n >= size ? size - 1 : n;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

size_t
sf_strlcat(char *dst, const char *src, size_t size)
{
	size_t d = strnlen(dst, size);

	if (d == size)
		return size + strlen(src);
	return d + sf_strlcpy(dst + d, src, size - d);
}

int
sf_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	*out = NULL;
	va_start(ap, fmt);
	n = vasprintf(out, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*out = NULL;
		return SF_ENOMEM;
	}
	return SF_OK;
}

int
sf_strtonum(const char *s, long long min, long long max, long long *out)
{
	const char *p;
	long long v;
	char *end;

	*out = 0;
	if (s == NULL || *s == '\0')
		return SF_EINVAL;
	p = s;
	if (*p == '-') {
		if (min >= 0)
			return SF_EINVAL;
		p++;
	}
	if (*p < '0' || *p > '9')
		return SF_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return SF_EINVAL;
	*out = v;
	return SF_OK;
}

int64_t
sf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

uint64_t
sf_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
sf_random(void *buf, size_t n)
{
	if (n > INT_MAX || RAND_bytes(buf, (int)n) != 1)
		return SF_ECRYPTO;
	return SF_OK;
}

char *
sf_u64_dec(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

/*
 * Per-process state kept across fork(3) by one atfork handler: the pid
 * (getpid(2) is a system call on every use since glibc 2.25) and the
 * identifier pool below, which a child drops so that parent and child
 * never hand out the same bytes.  Without the handler (pthread_atfork
 * failed) neither is cached.
 */
#define UUID_POOL	512
static _Thread_local unsigned char uuid_pool[UUID_POOL];
static _Thread_local size_t uuid_off = UUID_POOL;
static pthread_once_t proc_once = PTHREAD_ONCE_INIT;
static pid_t proc_pid;			/* 0: not cached */

static void
proc_forked(void)
{
	OPENSSL_cleanse(uuid_pool, sizeof(uuid_pool));
	uuid_off = UUID_POOL;
	proc_pid = getpid();
}

static void
proc_init(void)
{
	if (pthread_atfork(NULL, NULL, proc_forked) == 0)
		proc_pid = getpid();
}

pid_t
sf_getpid(void)
{
	(void)pthread_once(&proc_once, proc_init);
	return proc_pid != 0 ? proc_pid : getpid();
}

/*
 * Identifiers come from OpenSSL's DRBG in blocks of UUID_POOL bytes, one
 * RAND_bytes per 32 identifiers instead of one each; the pool is per
 * thread.
 */
int
sf_uuid4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t i, j;
	int rc;

	out[0] = '\0';
	(void)pthread_once(&proc_once, proc_init);
	if (proc_pid == 0) {		/* no atfork handler: no pool */
		if ((rc = sf_random(b, sizeof(b))) != SF_OK)
			return rc;
	} else {
		if (uuid_off + sizeof(b) > UUID_POOL) {
			if ((rc = sf_random(uuid_pool, UUID_POOL)) != SF_OK)
				return rc;
			uuid_off = 0;
		}
		memcpy(b, uuid_pool + uuid_off, sizeof(b));
		OPENSSL_cleanse(uuid_pool + uuid_off, sizeof(b));
		uuid_off += sizeof(b);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* RFC 9562 §5.4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = j = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[b[i] >> 4];
		out[j++] = hex[b[i] & 0x0f];
	}
	out[j] = '\0';
	return SF_OK;
}

int
sf_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rc = SF_ESYS;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? SF_ENOTFOUND : SF_ESYS;
	for (;;) {
		if (len + 1 >= cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			char *nb;

			if (cap > max + 1) {
				rc = SF_ETOOBIG;
				goto out;
			}
			if ((nb = realloc(buf, ncap)) == NULL) {
				rc = SF_ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			rc = SF_ETOOBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (outlen != NULL)
		*outlen = len;
	rc = SF_OK;
out:
	free(buf);
	close(fd);
	return rc;
}

int
sf_write_file(const char *path, const void *buf, size_t len,
    unsigned int mode)
{
	char *tmp = NULL, *dcopy = NULL;
	const char *p = buf;
	int fd = -1, dfd = -1, rc = SF_ESYS;
	ssize_t n;

	if (sf_asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) != SF_OK)
		return SF_ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd == -1)
		goto out;
	if (fchmod(fd, (mode_t)mode) == -1)
		goto out;
	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto out;
	if (close(fd) == -1) {
		fd = -1;
		(void)unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		(void)unlink(tmp);
		goto out;
	}
	if ((dcopy = sf_strdup(path)) == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if ((dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		(void)fsync(dfd);
	rc = SF_OK;
out:
	if (fd != -1) {
		close(fd);
		(void)unlink(tmp);
	}
	if (dfd != -1)
		close(dfd);
	free(dcopy);
	free(tmp);
	return rc;
}
