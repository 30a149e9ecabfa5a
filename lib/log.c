/*
 * log.c - one line per message to stderr and, when enabled, syslog.
 *
 * Under spawn-fcgi and lighttpd's bin-path stderr is /dev/null, so
 * installed units turn on syslog (use_syslog in starfly.conf).
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "starfly.h"

static const char *log_prog = "starfly";
static int log_syslog;
static enum sf_loglevel log_level = SF_LOG_INFO;

void
log_init(const char *progname, int use_syslog, enum sf_loglevel level)
{
	if (progname != NULL)
		log_prog = progname;
	log_level = level;
	if (use_syslog && !log_syslog)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = use_syslog;
}

void
log_msg(enum sf_loglevel level, const char *fmt, ...)
{
	static const char *const names[8] = { "emerg", "alert", "crit",
	    "error", "warning", "notice", "info", "debug" };
	char buf[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%ld]: %s: %s\n", log_prog, (long)getpid(),
	    names[level & 7], buf);
	if (log_syslog)
		syslog((int)level, "%s", buf);
}
