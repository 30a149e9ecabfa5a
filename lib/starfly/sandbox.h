/*
 * starfly/sandbox.h - privilege separation (lib/sandbox.c).  Included by
 * starfly.h only.
 *
 * Every FastCGI program goes through prog_init, which ends with
 * sandbox_prog: the program drops to its own user (--user NAME, when
 * started as root), then sets no-new-privs, confines its file access to
 * the unit's directories it needs (Landlock, when the kernel has it) and
 * installs a seccomp allow-list of system calls.  The profile (which
 * directories, read or write) is chosen by program name; the table is in
 * lib/sandbox.c.
 *
 * Switches: --sandbox on|debug|off, else $STARFLY_SANDBOX, else on.
 * "debug" turns a refused system call into EPERM plus a report on
 * stderr and in the kernel audit log, instead of killing the process;
 * "off" skips Landlock and seccomp (the privilege drop still happens).
 */
#ifndef STARFLY_SANDBOX_H
#define STARFLY_SANDBOX_H

enum sandbox_mode {
	SANDBOX_ON = 0,		/* kill on a system call off the list */
	SANDBOX_DEBUG = 1,	/* refuse with EPERM and report */
	SANDBOX_OFF = 2		/* no Landlock, no seccomp */
};

/* What a profile may touch (bits of sandbox_profile.fs). */
enum sandbox_fs {
	SANDBOX_FS_ETC = 1 << 0,	/* etc_dir, policy_dir: read */
	SANDBOX_FS_KEYS = 1 << 1,	/* keys_dir: read */
	SANDBOX_FS_STORE = 1 << 2,	/* the store's directory: write */
	SANDBOX_FS_AUDIT_RO = 1 << 3,	/* audit_dir: read */
	SANDBOX_FS_AUDIT = 1 << 4,	/* audit_dir: write */
	SANDBOX_FS_STATE = 1 << 5,	/* state_dir: write (else read) */
	SANDBOX_FS_SEAL = 1 << 6	/* /dev/shm: the seal segment */
};

struct sandbox_profile {
	const char	*name;		/* program name, e.g. "exchange.fcgi" */
	unsigned int	 fs;		/* enum sandbox_fs bits */
};

/*
 * The profile of a program by name (borrowed, static); an unknown name
 * gets the widest profile and *known is false.
 */
const struct sandbox_profile *sandbox_profile(const char *progname,
		    bool *known);

struct sandbox_opts {
	const char		*user;	/* --user NAME, borrowed; or NULL */
	enum sandbox_mode	 mode;
};

/*
 * Take --user NAME and --sandbox MODE out of argv (also the "=VALUE"
 * spellings); the mode defaults to $STARFLY_SANDBOX, else on.  SF_EINVAL
 * for an unknown mode (named in *why, static).
 */
int		 sandbox_args(int *argc, char **argv, struct sandbox_opts *o,
		    const char **why);

/*
 * Become user for good: supplementary groups from the group database
 * (initgroups), setresgid, setresuid, then check that the real, effective
 * and saved ids all changed and that setuid(0) now fails.  Root only;
 * when the process already runs as that user it is a no-op.  SF_ESYS
 * (errno set) or SF_EINVAL (unknown user, or not root), with *why
 * (static) saying which step failed.
 */
int		 sandbox_drop_privileges(const char *user, const char **why);

/*
 * Confine the process: RLIMIT_CORE 0 and not dumpable (no core files
 * holding keys, no ptrace by the same user), PR_SET_NO_NEW_PRIVS,
 * Landlock rules for the unit's paths in c by profile, then the seccomp
 * filter.  listen is the --listen value (or NULL): with it the process
 * may still bind its socket and fork its workers; without it it may
 * start threads but never another process.  Does nothing in SANDBOX_OFF mode.  Returns SF_OK, or
 * SF_ESYS/SF_ENOMEM when a step that the kernel supports failed.  A
 * kernel without Landlock is logged once and tolerated.
 */
int		 sandbox_enter(const struct sandbox_profile *prof,
		    const struct sf_conf *c, const char *listen,
		    enum sandbox_mode mode);

/* Whether the running kernel offers Landlock (its ABI version, or 0). */
int		 sandbox_landlock_abi(void);

struct prog;
/*
 * The start-up step of prog_init: umask 007 (the unit's files are shared
 * with its group, never with others), sandbox_args, then (as root with
 * --user) sandbox_drop_privileges, then sandbox_enter with the program's
 * profile.  Errors are printed to stderr and logged; the caller stops.
 */
int		 sandbox_prog(struct prog *p, int *argc, char **argv);

#endif /* STARFLY_SANDBOX_H */
