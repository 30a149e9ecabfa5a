/*
 * test_sandbox.c - lib/sandbox.c: options, profiles, the privilege drop,
 * Landlock confinement and the seccomp allow-list.  Every confinement
 * runs in a forked child (it cannot be undone) that reports through its
 * exit status; children leave with _exit so no exit handler runs inside
 * the filter.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starfly.h"
#include "t.h"

static char base[64];
static struct sf_conf *conf;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
write_text(const char *path, const char *text, mode_t mode)
{
	int fd;
	ssize_t n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A unit layout under base and its configuration (conf). */
static int
setup(void)
{
	char path[256], text[512], *err = NULL;
	const char *dirs[] = { "etc", "state", "state/run", "state/keys",
	    "state/keys/private", "state/audit", "outside" };
	size_t i;

	snprintf(base, sizeof(base), "/tmp/sf-sandbox.XXXXXX");
	if (mkdtemp(base) == NULL)
		return -1;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", base, dirs[i]);
		if (mkdir(path, 0700) == -1)
			return -1;
	}
	snprintf(text, sizeof(text), "mode dev\nissuer http://localhost:1\n"
	    "state_dir %s/state\netc_dir %s/etc\npolicy_dir %s/etc\n",
	    base, base, base);
	snprintf(path, sizeof(path), "%s/etc/starfly.conf", base);
	if (write_text(path, text, 0644) == -1)
		return -1;
	if (conf_load(path, &conf, &err) != SF_OK) {
		fprintf(stderr, "conf: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state/starfly.db", base);
	if (write_text(path, "db", 0660) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/state/keys/private/k.pem", base);
	if (write_text(path, "secret", 0600) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/state/keys/keyring.json", base);
	if (write_text(path, "{}", 0644) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/outside/file", base);
	return write_text(path, "x", 0644);
}

/* Run fn in a child; return its wait status (-1 if fork failed). */
static int
in_child(int (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		_exit(fn());
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

#define EXITED(st, code)	(WIFEXITED(st) && WEXITSTATUS(st) == (code))
#define KILLED_BY(st, sig)	(WIFSIGNALED(st) && WTERMSIG(st) == (sig))

/* errno of open(base/rel, flags), or 0 when it opened. */
static int
try_open(const char *rel, int flags)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	if ((fd = open(path, flags | O_CLOEXEC, 0600)) == -1)
		return errno;
	close(fd);
	return 0;
}

static void
test_args(void)
{
	char a0[] = "prog", a1[] = "--user", a2[] = "www", a3[] = "--x",
	    a4[] = "--sandbox=debug", a5[] = "tail";
	char *argv[] = { a0, a1, a2, a3, a4, a5, NULL };
	char b1[] = "--sandbox", b2[] = "sometimes";
	char *bad[] = { a0, b1, b2, NULL };
	struct sandbox_opts o;
	const char *why;
	int argc = 6, n = 3;

	unsetenv("GATEWAY_INTERFACE");
	unsetenv("STARFLY_SANDBOX");
	T_OK(sandbox_args(&argc, argv, &o, &why));
	T_EQ_STR(o.user, "www");
	T(o.mode == SANDBOX_DEBUG);
	T(argc == 3);
	T_EQ_STR(argv[1], "--x");
	T_EQ_STR(argv[2], "tail");
	T(argv[3] == NULL);
	T(sandbox_args(&n, bad, &o, &why) == SF_EINVAL);
	T(why != NULL && strstr(why, "on, debug or off") != NULL);
}

static void
test_args_env_and_cgi(void)
{
	char a0[] = "prog", a1[] = "--sandbox", a2[] = "off";
	char *argv[] = { a0, a1, a2, NULL };
	struct sandbox_opts o;
	const char *why;
	int argc = 3;

	setenv("STARFLY_SANDBOX", "debug", 1);
	setenv("GATEWAY_INTERFACE", "CGI/1.1", 1);
	/* A CGI request's command line is the query's words: not options. */
	T_OK(sandbox_args(&argc, argv, &o, &why));
	unsetenv("GATEWAY_INTERFACE");
	unsetenv("STARFLY_SANDBOX");
	T(argc == 3);
	T(o.mode == SANDBOX_DEBUG);
	T(o.user == NULL);
}

static void
test_profiles(void)
{
	const struct sandbox_profile *p;
	bool known;

	p = sandbox_profile("exchange.fcgi", &known);
	T(known && (p->fs & SANDBOX_FS_KEYS) && (p->fs & SANDBOX_FS_STORE));
	p = sandbox_profile("jwks.fcgi", &known);
	T(known && (p->fs & SANDBOX_FS_KEYS) && !(p->fs & SANDBOX_FS_STORE) &&
	    !(p->fs & SANDBOX_FS_ETC) && !(p->fs & SANDBOX_FS_AUDIT));
	p = sandbox_profile("events.fcgi", &known);
	T(known && (p->fs & SANDBOX_FS_AUDIT_RO) && !(p->fs & SANDBOX_FS_AUDIT)
	    && !(p->fs & SANDBOX_FS_KEYS));
	p = sandbox_profile("nosuch.fcgi", &known);
	T(!known && (p->fs & SANDBOX_FS_STORE));
}

static int
child_landlock_jwks(void)
{
	if (sandbox_enter(sandbox_profile("jwks.fcgi", NULL), conf, NULL,
	    SANDBOX_ON) != SF_OK)
		return 10;
	if (try_open("state/keys/keyring.json", O_RDONLY) != 0)
		return 11;	/* its own keys: readable */
	if (try_open("state/starfly.db", O_RDONLY) != 0)
		return 12;	/* state_dir: readable */
	if (try_open("state/starfly.db", O_RDWR) != EACCES)
		return 13;	/* but the store is not writable */
	if (try_open("outside/file", O_RDONLY) != EACCES)
		return 14;	/* nothing outside the unit */
	if (try_open("etc/starfly.conf", O_RDONLY) != 0)
		return 15;	/* its configuration */
	if (try_open("state/run/metrics.shm", O_RDWR | O_CREAT) != 0)
		return 16;	/* run_dir: writable */
	if (try_open("state/audit/x", O_RDWR | O_CREAT) != EACCES)
		return 17;	/* no audit for jwks */
	return 0;
}

static int
child_landlock_exchange(void)
{
	if (sandbox_enter(sandbox_profile("exchange.fcgi", NULL), conf, NULL,
	    SANDBOX_ON) != SF_OK)
		return 10;
	if (try_open("state/keys/private/k.pem", O_RDONLY) != 0)
		return 11;
	if (try_open("state/starfly.db", O_RDWR) != 0)
		return 12;
	if (try_open("state/audit/x", O_RDWR | O_CREAT) != 0)
		return 13;
	if (try_open("outside/file", O_RDONLY) != EACCES)
		return 14;
	if (try_open("etc/new", O_RDWR | O_CREAT) != EACCES)
		return 15;	/* configuration is read-only */
	if (try_open("etc/starfly.conf", O_RDWR) != EACCES)
		return 16;
	return 0;
}

static void
test_landlock(void)
{
	int st;

	if (sandbox_landlock_abi() < 1) {
		printf("SKIP sandbox: test_landlock: kernel without Landlock\n");
		return;
	}
	st = in_child(child_landlock_jwks);
	T(EXITED(st, 0));
	st = in_child(child_landlock_exchange);
	T(EXITED(st, 0));
}

static int
child_exec(void)
{
	char *argv[] = { (char *)"/bin/true", NULL };

	if (sandbox_enter(sandbox_profile("jwks.fcgi", NULL), conf, NULL,
	    SANDBOX_ON) != SF_OK)
		return 10;
	execv(argv[0], argv);
	return 20;	/* execve returned: not refused */
}

static int
child_inet(void)
{
	if (sandbox_enter(sandbox_profile("jwks.fcgi", NULL), conf, NULL,
	    SANDBOX_ON) != SF_OK)
		return 10;
	(void)socket(AF_INET, SOCK_STREAM, 0);
	return 20;
}

static int
child_fork(void)
{
	pid_t pid;

	if (sandbox_enter(sandbox_profile("jwks.fcgi", NULL), conf, NULL,
	    SANDBOX_ON) != SF_OK)
		return 10;
	if ((pid = fork()) == 0)
		_exit(0);
	return 20;
}

static void *
thread_main(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

/* Threads are allowed (the audit sync thread), processes are not. */
static int
child_thread(void)
{
	pthread_t t;
	int v = 0;

	if (sandbox_enter(sandbox_profile("jwks.fcgi", NULL), conf, NULL,
	    SANDBOX_ON) != SF_OK)
		return 10;
	if (pthread_create(&t, NULL, thread_main, &v) != 0)
		return 11;
	if (pthread_join(t, NULL) != 0 || v != 42)
		return 12;
	return 0;
}

/* The usual work still runs: files, a unix socket, time, randomness. */
static int
child_allowed(void)
{
	char buf[16];
	int fd;

	if (sandbox_enter(sandbox_profile("exchange.fcgi", NULL), conf, NULL,
	    SANDBOX_ON) != SF_OK)
		return 10;
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 11;
	close(fd);
	if (sf_random(buf, sizeof(buf)) != SF_OK)
		return 12;
	if (sf_now() <= 0 || sf_mono_ns() == 0)
		return 13;
	if (try_open("state/keys/keyring.json", O_RDONLY) != 0)
		return 14;
	return 0;
}

static void
test_seccomp_kills(void)
{
	int st;

	st = in_child(child_allowed);
	T(EXITED(st, 0));
	st = in_child(child_thread);
	T(EXITED(st, 0));
	st = in_child(child_exec);
	T(KILLED_BY(st, SIGSYS));
	st = in_child(child_inet);
	T(KILLED_BY(st, SIGSYS));
	st = in_child(child_fork);
	T(KILLED_BY(st, SIGSYS));
}

static int
child_debug(void)
{
	int fd;

	if (sandbox_enter(sandbox_profile("jwks.fcgi", NULL), conf, NULL,
	    SANDBOX_DEBUG) != SF_OK)
		return 10;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd != -1 || errno != EPERM)
		return 11;
	return 0;	/* refused, reported, still alive */
}

static void
test_seccomp_debug(void)
{
	char buf[512];
	int p[2], st, saved;
	ssize_t n;

	T(pipe(p) == 0);
	saved = dup(STDERR_FILENO);
	T(saved != -1);
	dup2(p[1], STDERR_FILENO);
	st = in_child(child_debug);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	T(EXITED(st, 0));
	T(n > 0);
	buf[n] = '\0';
	T(strstr(buf, "refused system call socket") != NULL);
}

/* With --listen the process binds and forks its workers. */
static int
child_listen(void)
{
	char path[256];
	pid_t pid;
	int fd, status;

	snprintf(path, sizeof(path), "%s/state/run/t.sock", base);
	if (sandbox_enter(sandbox_profile("jwks.fcgi", NULL), conf, path,
	    SANDBOX_ON) != SF_OK)
		return 10;
	if ((pid = fork()) == -1)
		return 11;
	if (pid == 0)
		_exit(7);
	if (waitpid(pid, &status, 0) != pid || !EXITED(status, 7))
		return 12;
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return 13;
	close(fd);
	return 0;
}

static void
test_listen_may_fork(void)
{
	T(EXITED(in_child(child_listen), 0));
}

static int
child_drop(void)
{
	struct passwd *pw = getpwnam("nobody");
	const char *why;

	if (pw == NULL)
		return 10;
	if (sandbox_drop_privileges("nobody", &why) != SF_OK)
		return 11;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid)
		return 12;
	if (setuid(0) != -1)
		return 13;
	/* root's 0600 file is closed to it now */
	if (try_open("state/keys/private/k.pem", O_RDONLY) != EACCES)
		return 14;
	/* again: already that user, a no-op */
	if (sandbox_drop_privileges("nobody", &why) != SF_OK)
		return 15;
	return 0;
}

static int
chmod_rel(const char *rel, mode_t mode)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	return chmod(path, mode);
}

static void
test_drop_privileges(void)
{
	const char *why;

	T(sandbox_drop_privileges("no-such-user-xyz", &why) == SF_EINVAL);
	T(why != NULL);
	T(sandbox_drop_privileges("root", &why) == SF_EINVAL);
	if (getpwnam("nobody") == NULL) {
		printf("SKIP sandbox: test_drop_privileges: no user nobody\n");
		return;
	}
	if (geteuid() != 0) {
		T(sandbox_drop_privileges("nobody", &why) == SF_EINVAL);
		printf("SKIP sandbox: test_drop_privileges: not root\n");
		return;
	}
	/* open the path to the key file so that its own mode refuses */
	T(chmod(base, 0755) == 0);
	T(chmod_rel("state", 0755) == 0);
	T(chmod_rel("state/keys", 0755) == 0);
	T(chmod_rel("state/keys/private", 0755) == 0);
	T(EXITED(in_child(child_drop), 0));
}

int
main(void)
{
	t_prog = "sandbox";
	if (setup() != 0) {
		printf("FAIL sandbox: setup: %s\n", strerror(errno));
		return 1;
	}
	RUN(test_args);
	RUN(test_args_env_and_cgi);
	RUN(test_profiles);
	RUN(test_landlock);
	RUN(test_seccomp_kills);
	RUN(test_seccomp_debug);
	RUN(test_listen_may_fork);
	RUN(test_drop_privileges);
	conf_free(conf);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return T_DONE();
}
