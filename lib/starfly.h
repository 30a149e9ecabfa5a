/*
 * starfly.h - the one public header of libcore.
 *
 * Programs in bin/ include this file only.  It declares the error codes
 * shared by every module and pulls in the per-area sections under
 * lib/starfly/ (each section is owned by one module of lib/).
 *
 * Conventions for every function declared here:
 *  - A function that can fail returns int: SF_OK (0) or a negative
 *    SF_E* code from enum sf_err; sf_strerror() names it.
 *  - Out-parameters are cleared on entry, so they are NULL/0 on failure.
 *  - Ownership is stated per function: "new" (the caller frees it with the
 *    named free function), "borrowed" (valid while the owner lives; never
 *    freed by the caller), "takes" (the callee now owns the argument).
 *  - Every *_free() accepts NULL.
 *  - Nothing in libcore calls exit(); allocation failure is SF_ENOMEM.
 */
#ifndef STARFLY_H
#define STARFLY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SF_VERSION "0.1.0"

enum sf_err {
	SF_OK = 0,
	SF_ENOMEM = -1,		/* allocation failed */
	SF_ESYS = -2,		/* system call failed; errno is set */
	SF_EINVAL = -3,		/* invalid argument or malformed input */
	SF_EPARSE = -4,		/* input does not parse */
	SF_ETOOBIG = -5,	/* input over its size limit */
	SF_ENOTFOUND = -6,	/* no such entry */
	SF_EEXIST = -7,		/* entry exists */
	SF_EBUSY = -8,		/* resource busy (lock not obtained in time) */
	SF_ESTORE = -9,		/* the store failed */
	SF_ECRYPTO = -10,	/* OpenSSL failed */
	SF_EBADSIG = -11,	/* signature does not verify */
	SF_EALG = -12,		/* algorithm refused or unsupported */
	SF_EKEY = -13,		/* key unusable, wrong type or unknown kid */
	SF_EEXPIRED = -14,	/* token expired */
	SF_ENOTYET = -15,	/* token not yet valid */
	SF_ECLAIM = -16,	/* a required claim is missing or wrong */
	SF_ECONF = -17,		/* configuration error */
	SF_EPOLICY = -18,	/* policy failed to compile or evaluate */
	SF_ELIMIT = -19,	/* an evaluation or resource limit was hit */
	SF_EREVOKED = -20,	/* subject, actor or token revoked */
	SF_EDENIED = -21,	/* refused by policy or by a rule */
	SF_ESEALED = -22,	/* the unit is sealed */
	SF_EREPLAY = -23,	/* a nonce or jti was seen before */
	SF_EIO = -24,		/* I/O error on a stream or socket */
	SF_ENOTSUP = -25,	/* not supported */
	SF_ERR_LAST = -25
};

/* Static string naming an error code; never NULL. */
const char	*sf_strerror(int err);

/*
 * Utilities (lib/util.c).
 */

/* Constant-time equality of two buffers of the same length (CRYPTO_memcmp). */
bool		 sf_memeq_ct(const void *a, const void *b, size_t len);

/* Constant-time equality of two NUL-terminated secrets (length leaks only). */
bool		 sf_streq_ct(const char *a, const char *b);

/* Wipe then free; accepts NULL. */
void		 sf_freezero(void *p, size_t len);

/* Wipe a NUL-terminated string then free it; accepts NULL. */
void		 sf_strfree_secret(char *s);

/* strdup/strndup that return NULL on failure (never abort). New. */
char		*sf_strdup(const char *s);
char		*sf_strndup(const char *s, size_t n);

/* BSD strlcpy/strlcat (glibc 2.36 lacks them): return strlen(src)/total. */
size_t		 sf_strlcpy(char *dst, const char *src, size_t size);
size_t		 sf_strlcat(char *dst, const char *src, size_t size);

/* asprintf-like; *out is new on SF_OK. */
int		 sf_asprintf(char **out, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * Parse a decimal integer in [min, max]; the whole string must be digits
 * (an optional leading '-' when min < 0).  SF_EINVAL otherwise.
 */
int		 sf_strtonum(const char *s, long long min, long long max,
		    long long *out);

/* Current time: wall clock seconds and monotonic nanoseconds. */
int64_t		 sf_now(void);
uint64_t	 sf_mono_ns(void);

/* n random bytes from OpenSSL's DRBG. */
int		 sf_random(void *buf, size_t n);

/* This process's pid, cached and kept right across fork(3). */
pid_t		 sf_getpid(void);

/*
 * v in decimal, written so that it ends just before end (at most
 * SF_U64_DEC_MAX bytes, no NUL); returns its first byte.
 */
#define SF_U64_DEC_MAX	20
char		*sf_u64_dec(char *end, uint64_t v);

/* Lowercase hyphenated UUIDv4 into out[37]. */
int		 sf_uuid4(char out[37]);

/* Read a whole file (at most max bytes) into a new NUL-terminated buffer. */
int		 sf_read_file(const char *path, size_t max, char **out,
		    size_t *outlen);

/*
 * Write a file atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory.  mode is the new file's mode.
 */
int		 sf_write_file(const char *path, const void *buf, size_t len,
		    unsigned int mode);

/*
 * Logging (lib/log.c): one line per message to stderr (which the web
 * server forwards or spawn-fcgi discards) and, when enabled, to syslog.
 */
enum sf_loglevel { SF_LOG_ERR = 3, SF_LOG_WARN = 4, SF_LOG_INFO = 6,
    SF_LOG_DEBUG = 7 };

void		 log_init(const char *progname, int use_syslog,
		    enum sf_loglevel level);
void		 log_msg(enum sf_loglevel level, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
#define log_err(...)	log_msg(SF_LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(SF_LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(SF_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(SF_LOG_DEBUG, __VA_ARGS__)

#include "starfly/jose.h"
#include "starfly/store.h"
#include "starfly/conf.h"
#include "starfly/http.h"
#include "starfly/policy.h"
#include "starfly/cred.h"
#include "starfly/revoke.h"
#include "starfly/set.h"
#include "starfly/verify.h"
#include "starfly/token.h"
#include "starfly/obs.h"
#include "starfly/client.h"
#include "starfly/seal.h"
#include "starfly/clientreg.h"
#include "starfly/sandbox.h"

#endif /* STARFLY_H */
