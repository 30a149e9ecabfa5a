/*
 * sandbox.c - privilege separation for the FastCGI programs: a drop to
 * the program's own user, then Landlock and a seccomp allow-list.
 *
 * Order (slowcgi, OpenSSH's privsep child): supplementary groups, gid,
 * uid, then check that root cannot be regained; no core files and not
 * dumpable (a signing key lives in exchange.fcgi's memory); no-new-privs;
 * Landlock; seccomp last, since the Landlock calls are not on its list.
 * prog_init runs this right after the configuration is read, so every
 * file a program creates afterwards (metrics and nonce segments, store
 * temporaries, its --listen socket) belongs to the program's user.
 *
 * Landlock (kernel 5.13+) is the Linux stand-in for unveil(2): a profile
 * names which of the unit's directories a program reads and which it
 * writes (table below); the rest of the file system is closed to it.
 * Rules are inherited by everything beneath a directory and cannot
 * subtract, so the private keys under keys_dir/private are kept from the
 * other programs by their mode (0700, the signing program's user), not by
 * Landlock.  A kernel without Landlock is tolerated and logged.
 *
 * seccomp: one allow-list for every program (what libc, OpenSSL, GDBM,
 * jansson and libfcgi call while serving), narrowed by arguments where
 * it matters: socket() only for AF_UNIX (syslog) unless --listen names a
 * TCP address; ioctl() only for the terminal and FIONREAD/FIONBIO
 * requests stdio and libfcgi make; bind/listen/fork/wait only with
 * --listen (the socket and the --workers supervisor), and fork never with
 * a namespace flag; threads (the audit sync thread) always.  clone3
 * answers ENOSYS so libc falls back to clone.
 * Everything else (execve, ptrace, mount, setuid, namespaces, bpf,
 * keyrings, io_uring, network sockets ...) kills the process, or in debug
 * mode fails with EPERM and is reported.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#include "starfly.h"

/* Rights newer than the Debian 12 kernel headers. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

#define LL_FILE_RIGHTS	(LANDLOCK_ACCESS_FS_EXECUTE | \
	LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_TRUNCATE)
#define LL_RO		(LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_RW		(LL_RO | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG | \
	LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)
#define LL_RWDIR	(LL_RW | LANDLOCK_ACCESS_FS_MAKE_DIR | \
	LANDLOCK_ACCESS_FS_REMOVE_DIR)
#define LL_SOCK		(LANDLOCK_ACCESS_FS_MAKE_SOCK | \
	LANDLOCK_ACCESS_FS_REMOVE_FILE)

/*
 * Profiles.  Every program also reads the configuration file's directory
 * and state_dir (unit_id), writes run_dir (metrics and nonce segments)
 * and, with --listen PATH, creates its socket.  A new program adds a
 * line here.
 */
static const struct sandbox_profile profiles[] = {
	{ "exchange.fcgi", SANDBOX_FS_ETC | SANDBOX_FS_KEYS |
	    SANDBOX_FS_STORE | SANDBOX_FS_AUDIT | SANDBOX_FS_SEAL },
	{ "jwks.fcgi", SANDBOX_FS_KEYS },
	{ "mcp.fcgi", SANDBOX_FS_ETC | SANDBOX_FS_KEYS | SANDBOX_FS_STORE |
	    SANDBOX_FS_AUDIT },
	{ "signals.fcgi", SANDBOX_FS_ETC | SANDBOX_FS_KEYS |
	    SANDBOX_FS_STORE | SANDBOX_FS_AUDIT },
	{ "sys.fcgi", SANDBOX_FS_ETC | SANDBOX_FS_KEYS | SANDBOX_FS_STORE |
	    SANDBOX_FS_AUDIT | SANDBOX_FS_STATE | SANDBOX_FS_SEAL },
	{ "events.fcgi", SANDBOX_FS_AUDIT_RO },
};
static const struct sandbox_profile widest = { "(unknown program)",
    SANDBOX_FS_ETC | SANDBOX_FS_KEYS | SANDBOX_FS_STORE | SANDBOX_FS_AUDIT |
    SANDBOX_FS_STATE | SANDBOX_FS_SEAL };

/* Read-only system files a program may still open while serving. */
static const char *const system_ro[] = {
	"/etc/ssl", "/usr/lib/ssl",		/* openssl.cnf, CA files */
	"/etc/localtime", "/usr/share/zoneinfo", /* syslog's timestamps */
	"/usr/lib", "/lib", "/etc/ld.so.cache",	/* OpenSSL providers */
	"/dev/urandom", "/dev/random",		/* jansson's hash seed */
	"/proc/sys/kernel/random/boot_id",	/* the store's reboot check */
	"/etc/hosts", "/etc/host.conf", "/etc/nsswitch.conf", "/etc/gai.conf",
	NULL
};

/* Every program, whatever it serves. */
static const char *const sys_common[] = {
	/* memory */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync",
	/* files and descriptors */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "lseek", "open", "openat", "creat",
	"close", "close_range", "dup", "dup2", "dup3", "fcntl", "flock",
	"fsync", "fdatasync", "ftruncate", "fallocate", "fadvise64", "stat",
	"fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getdents", "getdents64", "getcwd", "rename", "renameat",
	"renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "chmod",
	"fchmod", "fchmodat", "fchown", "umask",
	/* sockets: the FastCGI connection and syslog */
	"accept", "accept4", "getpeername", "getsockname", "getsockopt",
	"setsockopt", "shutdown", "connect", "sendto", "recvfrom",
	"sendmsg", "recvmsg", "poll", "ppoll", "select", "pselect6",
	/* time */
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep",
	/* signals, identity, limits */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend",
	"sigaltstack", "restart_syscall", "kill", "tgkill", "getpid",
	"getppid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "getrlimit", "prlimit64",
	"getrusage", "times", "sysinfo", "uname", "sched_yield",
	"sched_getaffinity", "getpriority", "setpriority",
	/* threads, process-shared mutexes, the seal segment, inotify */
	"futex", "set_robust_list", "get_robust_list", "rseq", "mlock",
	"munlock", "inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch",
	/* randomness, exit */
	"getrandom", "exit", "exit_group",
	NULL
};

/* With --listen: bind the socket, fork and reap the workers. */
static const char *const sys_listen[] = {
	"bind", "listen", "wait4", "waitid", NULL
};

static const unsigned long ioctl_ok[] = { TCGETS, TIOCGWINSZ, FIONREAD,
    FIONBIO };

#define CLONE_NS_FLAGS	((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS | \
	CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	CLONE_NEWCGROUP))

const struct sandbox_profile *
sandbox_profile(const char *progname, bool *known)
{
	size_t i;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (progname != NULL && strcmp(profiles[i].name, progname) == 0) {
			if (known != NULL)
				*known = true;
			return &profiles[i];
		}
	if (known != NULL)
		*known = false;
	return &widest;
}

static int
parse_mode(const char *s, enum sandbox_mode *mode)
{
	if (strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*mode = SANDBOX_ON;
	else if (strcmp(s, "debug") == 0)
		*mode = SANDBOX_DEBUG;
	else if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*mode = SANDBOX_OFF;
	else
		return SF_EINVAL;
	return SF_OK;
}

int
sandbox_args(int *argc, char **argv, struct sandbox_opts *o, const char **why)
{
	const char *mode = NULL, *env;
	bool cgi;
	int i, j;

	memset(o, 0, sizeof(*o));
	*why = NULL;
	/*
	 * A CGI request may put words of the query on the command line
	 * (RFC 3875 §4.4), so a CGI process takes no options from it.
	 */
	cgi = getenv("GATEWAY_INTERFACE") != NULL;
	for (i = 1, j = 1; i < *argc; i++) {
		if (cgi)
			argv[j++] = argv[i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < *argc)
			o->user = argv[++i];
		else if (strncmp(argv[i], "--user=", 7) == 0)
			o->user = argv[i] + 7;
		else if (strcmp(argv[i], "--sandbox") == 0 && i + 1 < *argc)
			mode = argv[++i];
		else if (strncmp(argv[i], "--sandbox=", 10) == 0)
			mode = argv[i] + 10;
		else
			argv[j++] = argv[i];
	}
	argv[j] = NULL;
	*argc = j;
	if (mode == NULL && (env = getenv("STARFLY_SANDBOX")) != NULL &&
	    *env != '\0')
		mode = env;
	if (mode != NULL && parse_mode(mode, &o->mode) != SF_OK) {
		*why = "--sandbox (or STARFLY_SANDBOX) must be on, debug or off";
		return SF_EINVAL;
	}
	if (o->user != NULL && *o->user == '\0') {
		*why = "--user needs a user name";
		return SF_EINVAL;
	}
	return SF_OK;
}

int
sandbox_drop_privileges(const char *user, const char **why)
{
	struct passwd *pw;
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;

	*why = NULL;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		*why = "no such user";
		return SF_EINVAL;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		*why = "will not run as root";
		return SF_EINVAL;
	}
	if (getuid() == uid && geteuid() == uid && getgid() == gid &&
	    getegid() == gid)
		return SF_OK;
	if (geteuid() != 0) {
		*why = "--user needs the program to start as root";
		return SF_EINVAL;
	}
	if (initgroups(pw->pw_name, gid) == -1) {
		*why = "initgroups";
		return SF_ESYS;
	}
	if (setresgid(gid, gid, gid) == -1) {
		*why = "setresgid";
		return SF_ESYS;
	}
	if (setresuid(uid, uid, uid) == -1) {
		*why = "setresuid";
		return SF_ESYS;
	}
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 ||
	    ruid != uid || euid != uid || suid != uid ||
	    rgid != gid || egid != gid || sgid != gid) {
		*why = "ids did not change";
		errno = EPERM;
		return SF_ESYS;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		*why = "root could be regained";
		errno = EPERM;
		return SF_ESYS;
	}
	return SF_OK;
}

int
sandbox_landlock_abi(void)
{
	long v;

	v = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	return v < 0 ? 0 : (int)v;
}

struct ll {
	int		 fd;
	uint64_t	 handled;
};

/* Allow access beneath path (a file gets its file rights only). */
static int
ll_allow(struct ll *l, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, rc = SF_OK;

	if (path == NULL || *path == '\0')
		return SF_OK;
	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return SF_OK;	/* nothing there to allow */
	if (fstat(fd, &st) == -1) {
		close(fd);
		return SF_ESYS;
	}
	if (!S_ISDIR(st.st_mode))
		access &= LL_FILE_RIGHTS;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & l->handled;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 && syscall(SYS_landlock_add_rule, l->fd,
	    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1) {
		log_err("sandbox: landlock rule for %s: %s", path,
		    strerror(errno));
		rc = SF_ESYS;
	}
	close(fd);
	return rc;
}

/* Allow access on the directory holding path. */
static int
ll_allow_dir_of(struct ll *l, const char *path, uint64_t access)
{
	char *copy;
	int rc;

	if (path == NULL)
		return SF_OK;
	if ((copy = sf_strdup(path)) == NULL)
		return SF_ENOMEM;
	rc = ll_allow(l, dirname(copy), access);
	free(copy);
	return rc;
}

/*
 * Files the drop-in configurations name by absolute path (an issuer's
 * jwks_file, a client's secret_file, a transmitter's keys): allow reading
 * the directory of each, so a key file may be replaced by rename.
 * Relative paths resolve inside etc_dir, which is allowed already.
 */
static int
ll_allow_named_files(struct ll *l, const char *etc_dir)
{
	static const char *const subdirs[] = { "issuers.d", "clients.d",
	    "transmitters.d" };
	char path[PATH_MAX], line[1024], *v, *end;
	struct dirent *de;
	size_t i, n;
	DIR *d;
	FILE *f;
	int rc = SF_OK;

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", etc_dir,
		    subdirs[i]) >= sizeof(path) || (d = opendir(path)) == NULL)
			continue;
		while (rc == SF_OK && (de = readdir(d)) != NULL) {
			n = strlen(de->d_name);
			if (n < 6 || strcmp(de->d_name + n - 5, ".conf") != 0 ||
			    (size_t)snprintf(path, sizeof(path), "%s/%s/%s",
			    etc_dir, subdirs[i], de->d_name) >= sizeof(path) ||
			    (f = fopen(path, "re")) == NULL)
				continue;
			while (rc == SF_OK && fgets(line, sizeof(line), f)) {
				/* "key value" or "key \"value\"" */
				v = line + strcspn(line, " \t\n#");
				v += strspn(v, " \t");
				if (*v == '"')
					v++;
				if (*v != '/')
					continue;
				end = v + strcspn(v, "\"\n#");
				while (end > v && (end[-1] == ' ' ||
				    end[-1] == '\t'))
					end--;
				*end = '\0';
				if (strrchr(v, '/') == v)
					continue;	/* never all of / */
				rc = ll_allow_dir_of(l, v, LL_RO);
			}
			fclose(f);
		}
		closedir(d);
	}
	return rc;
}

static int
landlock_enter(const struct sandbox_profile *prof, const struct sf_conf *c,
    const char *listen)
{
	static int warned;
	struct landlock_ruleset_attr ra;
	struct ll l = { -1, 0 };
	size_t i;
	int abi, rc = SF_OK;

	if ((abi = sandbox_landlock_abi()) < 1) {
		if (!warned++)
			log_warn("sandbox: this kernel has no Landlock; file "
			    "access is limited by user and mode only");
		return SF_OK;
	}
	l.handled = LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		l.handled |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		l.handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = l.handled;
	if ((l.fd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra),
	    0)) == -1) {
		log_err("sandbox: landlock_create_ruleset: %s",
		    strerror(errno));
		return SF_ESYS;
	}
	for (i = 0; system_ro[i] != NULL && rc == SF_OK; i++)
		rc = ll_allow(&l, system_ro[i], LL_RO);
	if (rc == SF_OK)
		rc = ll_allow(&l, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE);
	if (rc == SF_OK)
		rc = ll_allow_dir_of(&l, c->file, LL_RO);
	if (rc == SF_OK)
		rc = ll_allow(&l, c->state_dir, (prof->fs & SANDBOX_FS_STATE) ?
		    LL_RW : LL_RO);
	if (rc == SF_OK)
		rc = ll_allow(&l, c->run_dir, LL_RW);
	if (rc == SF_OK && (prof->fs & SANDBOX_FS_ETC)) {
		rc = ll_allow(&l, c->etc_dir, LL_RO);
		if (rc == SF_OK)
			rc = ll_allow(&l, c->policy_dir, LL_RO);
		if (rc == SF_OK && c->etc_dir != NULL)
			rc = ll_allow_named_files(&l, c->etc_dir);
	}
	if (rc == SF_OK && (prof->fs & SANDBOX_FS_KEYS))
		rc = ll_allow(&l, c->keys_dir, LL_RO);
	if (rc == SF_OK && (prof->fs & SANDBOX_FS_STORE))
		rc = ll_allow_dir_of(&l, c->store, LL_RW);
	if (rc == SF_OK && (prof->fs & SANDBOX_FS_AUDIT))
		rc = ll_allow(&l, c->audit_dir, LL_RWDIR);
	else if (rc == SF_OK && (prof->fs & SANDBOX_FS_AUDIT_RO))
		rc = ll_allow(&l, c->audit_dir, LL_RO);
	/* The seal segment (lib/seal.c): POSIX shared memory. */
	if (rc == SF_OK && (prof->fs & SANDBOX_FS_SEAL))
		rc = ll_allow(&l, "/dev/shm", LL_RW);
	if (rc == SF_OK && listen != NULL && strchr(listen, '/') != NULL)
		rc = ll_allow_dir_of(&l, listen, LL_SOCK);
	if (rc == SF_OK && syscall(SYS_landlock_restrict_self, l.fd, 0) == -1) {
		log_err("sandbox: landlock_restrict_self: %s", strerror(errno));
		rc = SF_ESYS;
	}
	close(l.fd);
	return rc;
}

/* Names of the native system calls, for the debug report (no malloc). */
#define SYSNAMES	512
static char *sysnames[SYSNAMES];

static size_t
fmt_num(char *buf, unsigned long n)
{
	char tmp[24];
	size_t i = 0, len = 0;

	do {
		tmp[i++] = (char)('0' + n % 10);
		n /= 10;
	} while (n != 0 && i < sizeof(tmp));
	while (i > 0)
		buf[len++] = tmp[--i];
	return len;
}

/*
 * SIGSYS from SECCOMP_RET_TRAP (debug mode): report the call on stderr
 * with async-signal-safe writes and make it return -EPERM.
 */
static void
on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	static const char pre[] = "starfly sandbox: refused system call ";
	char buf[160];
	size_t len = 0, n;
	int nr = si->si_syscall, saved = errno;

	(void)sig;
	memcpy(buf, pre, sizeof(pre) - 1);
	len = sizeof(pre) - 1;
	if (nr >= 0 && nr < SYSNAMES && sysnames[nr] != NULL) {
		n = strlen(sysnames[nr]);
		if (n > 64)
			n = 64;
		memcpy(buf + len, sysnames[nr], n);
		len += n;
		buf[len++] = ' ';
	}
	buf[len++] = '(';
	len += fmt_num(buf + len, (unsigned long)(nr < 0 ? 0 : nr));
	memcpy(buf + len, ") in pid ", 9);
	len += 9;
	len += fmt_num(buf + len, (unsigned long)getpid());
	buf[len++] = '\n';
	if (write(STDERR_FILENO, buf, len) == -1)
		errno = saved;	/* nowhere else to report it */
#if defined(__x86_64__)
	((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RAX] = -(greg_t)EPERM;
#elif defined(__aarch64__)
	((ucontext_t *)uctx)->uc_mcontext.regs[0] =
	    (unsigned long long)-(long long)EPERM;
#else
	(void)uctx;
#endif
	errno = saved;
}

/* One argument comparison (the SCMP_A* macros leave fields unset). */
static struct scmp_arg_cmp
arg(unsigned int n, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = { n, op, a, b };

	return c;
}

static int
allow_names(scmp_filter_ctx ctx, const char *const *names)
{
	int nr, r;

	for (; *names != NULL; names++) {
		if ((nr = seccomp_syscall_resolve_name(*names)) ==
		    __NR_SCMP_ERROR)
			continue;	/* not a call of this architecture */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
			log_err("sandbox: seccomp rule for %s: %s", *names,
			    strerror(-r));
			return SF_ESYS;
		}
	}
	return SF_OK;
}

static int
seccomp_enter(const char *listen, enum sandbox_mode mode)
{
	scmp_filter_ctx ctx;
	struct sigaction sa;
	bool tcp = listen != NULL && strchr(listen, '/') == NULL;
	size_t i;
	int r = 0, rc = SF_ESYS;

	if (mode == SANDBOX_DEBUG) {
		for (i = 0; i < SYSNAMES; i++)
			if (sysnames[i] == NULL)
				sysnames[i] = seccomp_syscall_resolve_num_arch(
				    SCMP_ARCH_NATIVE, (int)i);
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) == -1)
			return SF_ESYS;
	}
	if ((ctx = seccomp_init(mode == SANDBOX_DEBUG ? SCMP_ACT_TRAP :
	    SCMP_ACT_KILL_PROCESS)) == NULL)
		return SF_ENOMEM;
	if (mode == SANDBOX_DEBUG &&
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1)) < 0)
		goto out;
	if (allow_names(ctx, sys_common) != SF_OK)
		goto out;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    arg(0, SCMP_CMP_EQ, AF_UNIX, 0))) < 0)
		goto out;
	for (i = 0; i < sizeof(ioctl_ok) / sizeof(ioctl_ok[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
		    1, arg(1, SCMP_CMP_MASKED_EQ, 0xffffffffu,
		    ioctl_ok[i]))) < 0)
			goto out;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
	    SCMP_SYS(clone3), 0)) < 0)
		goto out;
	/* Threads (the audit sync thread), never in a new namespace. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    arg(0, SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS | CLONE_THREAD,
	    CLONE_THREAD))) < 0)
		goto out;
	if (listen != NULL) {
		if (allow_names(ctx, sys_listen) != SF_OK)
			goto out;
		/* Processes: the workers of --workers N. */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone),
		    1, arg(0, SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0))) < 0)
			goto out;
		if (tcp && ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(socket), 1, arg(0, SCMP_CMP_EQ, AF_INET, 0))) < 0 ||
		    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(socket), 1, arg(0, SCMP_CMP_EQ, AF_INET6, 0))) < 0))
			goto out;
	}
	if ((r = seccomp_load(ctx)) < 0)
		goto out;
	rc = SF_OK;
out:
	if (r < 0)
		log_err("sandbox: seccomp: %s", strerror(-r));
	seccomp_release(ctx);
	return rc;
}

int
sandbox_enter(const struct sandbox_profile *prof, const struct sf_conf *c,
    const char *listen, enum sandbox_mode mode)
{
	struct rlimit rl = { 0, 0 };
	int rc;

	if (mode == SANDBOX_OFF)
		return SF_OK;
	if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return SF_ESYS;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return SF_ESYS;
	if ((rc = landlock_enter(prof, c, listen)) != SF_OK)
		return rc;
	return seccomp_enter(listen, mode);
}

int
sandbox_prog(struct prog *p, int *argc, char **argv)
{
	const struct sandbox_profile *prof;
	struct sandbox_opts o;
	const char *why = NULL;
	bool known;
	int rc;

	if ((rc = sandbox_args(argc, argv, &o, &why)) != SF_OK)
		goto fail;
	/*
	 * Files the programs create are shared with the unit's group
	 * (metrics and audit segments, store temporaries: their modes say
	 * 0660) and never with others, whatever umask the launcher left.
	 */
	umask(007);
	if (o.user != NULL) {
		if ((rc = sandbox_drop_privileges(o.user, &why)) != SF_OK)
			goto fail;
	} else if (geteuid() == 0 && p->conf->mode == SF_MODE_PRODUCTION)
		log_warn("%s runs as root: give it --user or start it as its "
		    "own user", p->name);
	prof = sandbox_profile(p->name, &known);
	if (!known)
		log_warn("sandbox: no profile for %s; using the widest",
		    p->name);
	if ((rc = sandbox_enter(prof, p->conf, p->listen, o.mode)) != SF_OK) {
		why = "cannot enter the sandbox";
		goto fail;
	}
	if (o.mode != SANDBOX_ON)
		log_warn("sandbox %s: %s", o.mode == SANDBOX_OFF ? "off" :
		    "debug (refused calls are reported, not fatal)", p->name);
	return SF_OK;
fail:
	fprintf(stderr, "%s: sandbox: %s%s%s\n", p->name, why,
	    rc == SF_ESYS ? ": " : "", rc == SF_ESYS ? strerror(errno) : "");
	log_err("sandbox: %s%s%s", why, rc == SF_ESYS ? ": " : "",
	    rc == SF_ESYS ? strerror(errno) : "");
	return rc;
}
