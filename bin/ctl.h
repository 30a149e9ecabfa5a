/*
 * ctl.h - the command interface shared by starflyctl.c and its command
 * files bin/ctl_*.c (linked into starflyctl only).
 *
 * A command returns the process exit status: 0 success, 1 failure,
 * 2 usage error.  It prints results on stdout and errors on stderr.
 */
#ifndef CTL_H
#define CTL_H

#include "starfly.h"

struct ctl {
	const char	*config_path;	/* --config, $STARFLY_CONF or default */
	struct sf_conf	*conf;		/* loaded by ctl_conf() on demand */
};

/* The unit configuration, loaded on first use; NULL (error printed). */
const struct sf_conf *ctl_conf(struct ctl *c);

int	ctl_keys(struct ctl *c, int argc, char **argv);	/* ctl_keys.c */
int	ctl_policy(struct ctl *c, int argc, char **argv);	/* ctl_policy.c */
int	ctl_seal(struct ctl *, int, char **);		/* ctl_seal.c */
int	ctl_unseal(struct ctl *, int, char **);		/* ctl_seal.c */
int	ctl_seal_init(struct ctl *);			/* ctl_seal.c */
int	ctl_audit(struct ctl *, int, char **);		/* ctl_audit.c */
int	ctl_issuers(struct ctl *, int, char **);		/* ctl_issuers.c */
int	ctl_tools(struct ctl *, int, char **);		/* ctl_tools.c */
int	ctl_revoke(struct ctl *, int, char **);		/* ctl_revoke.c */
int	ctl_unrevoke(struct ctl *, int, char **);		/* ctl_revoke.c */
int	ctl_revocations(struct ctl *, int, char **);	/* ctl_revoke.c */
int	ctl_verify(struct ctl *, int, char **);		/* ctl_verify.c */

#endif /* CTL_H */
