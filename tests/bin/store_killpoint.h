/*
 * store_killpoint.h - fault injection for the store's crash tests.
 *
 * A program that includes this file defines write(2) itself.  The
 * executable's definition takes precedence over libc's for the calls
 * libgdbm makes (ELF symbol interposition), and GDBM opened with
 * GDBM_NOMMAP writes its file only with write(2).  Armed with
 * killpoint_arm(prefix, n, mode), the process kills itself with SIGKILL
 * at the n-th write to a file whose path starts with prefix (the
 * database and the files a repair makes beside it):
 *	KP_BEFORE	before the write,
 *	KP_TORN		after writing only its first half (a torn write),
 *	KP_AFTER	after the whole write.
 * killpoint_seen() counts those writes (armed or counting with n < 0).
 * killpoint_arm_rename(path) instead kills the process right after a
 * rename(2) onto exactly path has succeeded (a repair cut after it put
 * its rebuilt file in place, before it cleared its flags).
 * Include it in exactly one file of a test program.
 */
#ifndef STORE_KILLPOINT_H
#define STORE_KILLPOINT_H

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { KP_BEFORE, KP_TORN, KP_AFTER };

static char	 kp_prefix[PATH_MAX];
static long	 kp_left;	/* writes until the kill; < 0: only count */
static long	 kp_seen;
static int	 kp_mode;
static int	 kp_armed;
static char	 kp_rename_to[PATH_MAX];

static void
killpoint_arm(const char *prefix, long n, int mode)
{
	snprintf(kp_prefix, sizeof(kp_prefix), "%s", prefix);
	kp_left = n;
	kp_mode = mode;
	kp_seen = 0;
	kp_armed = 1;
}

static void killpoint_arm_rename(const char *) __attribute__((unused));

static void
killpoint_arm_rename(const char *to)
{
	snprintf(kp_rename_to, sizeof(kp_rename_to), "%s", to);
}

static long killpoint_seen(void) __attribute__((unused));

static long
killpoint_seen(void)
{
	return kp_seen;
}

static int
kp_match(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return 0;
	path[n] = '\0';
	return strncmp(path, kp_prefix, strlen(kp_prefix)) == 0;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	if (kp_armed && kp_match(fd)) {
		kp_seen++;
		if (kp_left > 0 && --kp_left == 0) {
			if (kp_mode == KP_TORN && len > 1)
				(void)syscall(SYS_write, fd, buf, len / 2);
			else if (kp_mode == KP_AFTER)
				(void)syscall(SYS_write, fd, buf, len);
			raise(SIGKILL);
		}
	}
	return (ssize_t)syscall(SYS_write, fd, buf, len);
}

int
rename(const char *from, const char *to)
{
	int r = renameat(AT_FDCWD, from, AT_FDCWD, to);

	if (r == 0 && kp_rename_to[0] != '\0' && strcmp(to, kp_rename_to) == 0)
		raise(SIGKILL);
	return r;
}

#endif /* STORE_KILLPOINT_H */
