/*
 * sandbox-probe - start up exactly as a named program does (prog_init:
 * configuration, --user, Landlock, seccomp), then try things that
 * program should or should not be able to do.  Used by
 * tests/e2e/privsep.sh.
 *
 *   sandbox-probe NAME [--config F] [--user U] [--sandbox M]
 *       [--listen X] ACTION...
 *
 * NAME is the program whose profile applies (exchange.fcgi, jwks.fcgi
 * ...).  Actions, in order, each printing one line "ACTION ARG: ok" or
 * "ACTION ARG: <strerror>":
 *   read PATH     open for reading
 *   write PATH    open an existing file for writing (no change made)
 *   create PATH   create a new file, then remove it
 *   exec PATH     execve (a refused call kills the probe: SIGSYS)
 *   inet          socket(AF_INET)
 *   setuid0       setuid(0)
 *   ids           "ids: uid U gid G"
 * The exit status is 0 when every action succeeded, 1 otherwise.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"

static int
report(const char *what, const char *arg, int rc)
{
	printf("%s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "",
	    rc == 0 ? "ok" : strerror(rc));
	fflush(stdout);
	return rc == 0 ? 0 : 1;
}

static int
try_open(const char *path, int flags)
{
	int fd;

	if ((fd = open(path, flags | O_CLOEXEC, 0600)) == -1)
		return errno;
	close(fd);
	if (flags & O_CREAT)
		(void)unlink(path);
	return 0;
}

int
main(int argc, char *argv[])
{
	char *eargv[2], **av;
	const char *name, *act, *arg;
	struct prog p;
	int i, n, bad = 0, fd;

	if (argc < 2) {
		fprintf(stderr, "usage: sandbox-probe NAME [options] "
		    "ACTION...\n");
		return 2;
	}
	/* argv[1] names the program; prog_init takes the options after. */
	name = argv[1];
	argv[1] = argv[0];
	av = argv + 1;
	n = argc - 1;
	if (prog_init(&p, name, &n, av) != SF_OK)
		return 3;
	for (i = 1; i < n; i++) {
		act = av[i];
		arg = i + 1 < n ? av[i + 1] : NULL;
		if (strcmp(act, "read") == 0 && arg != NULL) {
			bad |= report(act, arg, try_open(arg, O_RDONLY));
			i++;
		} else if (strcmp(act, "write") == 0 && arg != NULL) {
			bad |= report(act, arg, try_open(arg, O_WRONLY));
			i++;
		} else if (strcmp(act, "create") == 0 && arg != NULL) {
			bad |= report(act, arg, try_open(arg,
			    O_WRONLY | O_CREAT | O_EXCL));
			i++;
		} else if (strcmp(act, "exec") == 0 && arg != NULL) {
			eargv[0] = (char *)(uintptr_t)arg;
			eargv[1] = NULL;
			execv(arg, eargv);
			bad |= report(act, arg, errno);
			i++;
		} else if (strcmp(act, "inet") == 0) {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			bad |= report(act, NULL, fd == -1 ? errno : 0);
			if (fd != -1)
				close(fd);
		} else if (strcmp(act, "setuid0") == 0) {
			bad |= report(act, NULL, setuid(0) == -1 ? errno : 0);
		} else if (strcmp(act, "ids") == 0) {
			printf("ids: uid %ld gid %ld\n", (long)getuid(),
			    (long)getgid());
			fflush(stdout);
		} else {
			fprintf(stderr, "sandbox-probe: bad action %s\n", act);
			prog_fini(&p);
			return 2;
		}
	}
	prog_fini(&p);
	return bad;
}
