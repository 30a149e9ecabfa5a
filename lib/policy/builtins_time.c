/*
 * builtins_time.c - time.* builtins.
 *
 * Timestamps are int64 nanoseconds since the Unix epoch (UTC).  Layouts
 * are Go's reference-time layouts ("2006-01-02T15:04:05Z07:00") and
 * Go's named layouts (RFC3339, RFC1123Z, ...).  Time zones come from the
 * system tz database (/usr/share/zoneinfo, TZif files) with no global
 * state; "" and "UTC" are UTC, "Local" is the TZ of the process.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/rego.h"

#define A		EVA(ev)
#define NS		1000000000LL
#define ZONEDIR		"/usr/share/zoneinfo/"

static const char *const months[] = { "January", "February", "March",
    "April", "May", "June", "July", "August", "September", "October",
    "November", "December" };
static const char *const wdays[] = { "Sunday", "Monday", "Tuesday",
    "Wednesday", "Thursday", "Friday", "Saturday" };

/* Days since 1970-01-01 <-> civil date (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t	 era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y += *m <= 2;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A broken-down time in some zone. */
struct btime {
	int64_t		 year, mon, day, hour, min, sec, nsec, yday, wday;
	int32_t		 off;		/* seconds east of UTC */
	char		 abbr[16];
};

/*
 * Zones (TZif).
 */
struct zone {
	char		 name[128];
	bool		 utc, local;
};

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Offset and abbreviation in effect at unix time t. */
static bool
tzif_lookup(const char *name, int64_t t, int32_t *off, char *abbr,
    size_t abbrlen)
{
	char		*path = NULL, *buf = NULL;
	size_t		 len;
	const unsigned char *p, *end;
	uint32_t	 isut, isstd, leap, tcnt, typecnt, charcnt, i;
	int		 tsz = 4, idx = -1, type = 0;
	bool		 ok = false;

	if (sf_asprintf(&path, "%s%s", ZONEDIR, name) != SF_OK)
		return false;
	if (sf_read_file(path, 1 << 20, &buf, &len) != SF_OK || len < 44 ||
	    memcmp(buf, "TZif", 4) != 0)
		goto out;
	p = (const unsigned char *)buf;
	end = p + len;
	for (;;) {
		isut = be32(p + 20);
		isstd = be32(p + 24);
		leap = be32(p + 28);
		tcnt = be32(p + 32);
		typecnt = be32(p + 36);
		charcnt = be32(p + 40);
		if (tsz == 4 && buf[4] >= '2') {
			/* skip the v1 block to the 64-bit one */
			size_t skip = 44 + (size_t)tcnt * 5 + (size_t)typecnt *
			    6 + charcnt + (size_t)leap * 8 + isstd + isut;

			if (skip + 44 > len)
				goto out;
			p += skip;
			tsz = 8;
			continue;
		}
		break;
	}
	p += 44;
	if (typecnt == 0 || p + (size_t)tcnt * ((size_t)tsz + 1) +
	    (size_t)typecnt * 6 + charcnt > end)
		goto out;
	for (i = 0; i < tcnt; i++) {
		int64_t tt = tsz == 8 ? be64(p + (size_t)i * 8) :
		    (int32_t)be32(p + (size_t)i * 4);

		if (tt > t)
			break;
		idx = (int)i;
	}
	if (idx >= 0)
		type = p[(size_t)tcnt * (size_t)tsz + (size_t)idx];
	else {
		/* before the first transition: first standard type */
		for (i = 0; i < typecnt; i++)
			if (p[(size_t)tcnt * ((size_t)tsz + 1) + i * 6 + 4] ==
			    0) {
				type = (int)i;
				break;
			}
	}
	if ((uint32_t)type >= typecnt)
		goto out;
	{
		const unsigned char *tt = p + (size_t)tcnt * ((size_t)tsz + 1) +
		    (size_t)type * 6;
		const char *chars = (const char *)p + (size_t)tcnt *
		    ((size_t)tsz + 1) + (size_t)typecnt * 6;
		uint8_t di = tt[5];

		*off = (int32_t)be32(tt);
		if (di < charcnt)
			snprintf(abbr, abbrlen, "%.*s", (int)(charcnt - di),
			    chars + di);
		else
			abbr[0] = '\0';
	}
	ok = true;
out:
	free(path);
	free(buf);
	return ok;
}

static bool
zone_name_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n >= 100 || s[0] == '/' || strstr(s, "..") != NULL)
		return false;
	for (i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '/' ||
		    s[i] == '_' || s[i] == '-' || s[i] == '+'))
			return false;
	return true;
}

static int
zone_parse(struct ev *ev, const char *fn, const struct rv *v, struct zone *z)
{
	memset(z, 0, sizeof(*z));
	if (v->n == 0 || (v->n == 3 && memcmp(v->u.s, "UTC", 3) == 0)) {
		z->utc = true;
		return SF_OK;
	}
	if (v->n == 5 && memcmp(v->u.s, "Local", 5) == 0) {
		z->local = true;
		return SF_OK;
	}
	if (!zone_name_ok(v->u.s, v->n))
		return bi_err(ev, "%s: unknown time zone %.*s", fn,
		    (int)(v->n > 64 ? 64 : v->n), v->u.s);
	snprintf(z->name, sizeof(z->name), "%.*s", (int)v->n, v->u.s);
	{
		int32_t	 off;
		char	 ab[16];

		if (!tzif_lookup(z->name, 0, &off, ab, sizeof(ab)))
			return bi_err(ev, "%s: unknown time zone %s", fn,
			    z->name);
	}
	return SF_OK;
}

static void
zone_offset(const struct zone *z, int64_t sec, int32_t *off, char *abbr,
    size_t len)
{
	*off = 0;
	snprintf(abbr, len, "UTC");
	if (z->utc)
		return;
	if (z->local) {
		time_t		 t = (time_t)sec;
		struct tm	 tm;

		if (localtime_r(&t, &tm) != NULL) {
			*off = (int32_t)tm.tm_gmtoff;
			snprintf(abbr, len, "%s", tm.tm_zone != NULL ?
			    tm.tm_zone : "");
		}
		return;
	}
	if (!tzif_lookup(z->name, sec, off, abbr, len)) {
		*off = 0;
		snprintf(abbr, len, "UTC");
	}
}

static int64_t
floordiv(int64_t a, int64_t b)
{
	int64_t	 q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static void
breakdown(int64_t ns, const struct zone *z, struct btime *bt)
{
	int64_t	 sec = floordiv(ns, NS), days, rem;

	memset(bt, 0, sizeof(*bt));
	bt->nsec = ((ns % NS) + NS) % NS;
	zone_offset(z, sec, &bt->off, bt->abbr, sizeof(bt->abbr));
	sec += bt->off;
	days = floordiv(sec, 86400);
	rem = sec - days * 86400;
	civil_from_days(days, &bt->year, &bt->mon, &bt->day);
	bt->hour = rem / 3600;
	bt->min = rem % 3600 / 60;
	bt->sec = rem % 60;
	bt->wday = ((days % 7) + 11) % 7;	/* 1970-01-01 was Thursday */
	bt->yday = days - days_from_civil(bt->year, 1, 1) + 1;
}

/* Time argument: ns, or [ns, tz] / [ns, tz, layout]. */
static int
time_arg(struct ev *ev, const char *fn, const struct rv *v, int64_t *ns,
    struct zone *z, const struct rv **layout)
{
	const struct rv	*t = v;
	int		 rc;

	memset(z, 0, sizeof(*z));
	z->utc = true;
	if (layout != NULL)
		*layout = NULL;
	if (v->t == RV_ARR) {
		if (v->n < 2 || v->n > (layout != NULL ? 3u : 2u))
			return bi_type_errf(ev, "%s: operand 1 must be array "
			    "of two elements", fn);
		t = v->u.a[0];
		if (v->u.a[1]->t != RV_STR)
			return bi_type_errf(ev, "%s: operand 1 must be array "
			    "of number and string", fn);
		if ((rc = zone_parse(ev, fn, v->u.a[1], z)) != SF_OK)
			return rc;
		if (v->n == 3) {
			if (v->u.a[2]->t != RV_STR)
				return bi_type_errf(ev, "%s: operand 1 layout "
				    "must be a string", fn);
			*layout = v->u.a[2];
		}
	}
	if (t->t != RV_NUM)
		return bi_type_err(ev, fn, 1, "one of {number, array}", t);
	if (!rv_get_int(t, ns)) {
		double d = rv_get_dbl(t);

		if (d >= 9.2233720368547758e18 || d <= -9.2233720368547758e18)
			return bi_err(ev, "%s: timestamp too big", fn);
		*ns = (int64_t)d;
	}
	return SF_OK;
}

static int
bi_now_ns(struct ev *ev, struct rv *const *args, struct rv **out)
{
	(void)args;
	*out = rv_int(A, ev_now_ns(ev));
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
out_ints(struct ev *ev, struct rv **out, int n, int64_t a, int64_t b,
    int64_t c)
{
	struct rv	*v;
	int64_t		 x[3] = { a, b, c };
	int		 i;

	if ((v = rv_arr(A, (uint32_t)n)) == NULL)
		return SF_ENOMEM;
	for (i = 0; i < n; i++)
		if ((v->u.a[i] = rv_int(A, x[i])) == NULL)
			return SF_ENOMEM;
	*out = v;
	return SF_OK;
}

static int
bi_date(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct zone	 z;
	struct btime	 bt;
	int64_t		 ns;
	int		 rc;

	if ((rc = time_arg(ev, "time.date", args[0], &ns, &z, NULL)) != SF_OK)
		return rc;
	breakdown(ns, &z, &bt);
	return out_ints(ev, out, 3, bt.year, bt.mon, bt.day);
}

static int
bi_clock(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct zone	 z;
	struct btime	 bt;
	int64_t		 ns;
	int		 rc;

	if ((rc = time_arg(ev, "time.clock", args[0], &ns, &z, NULL)) != SF_OK)
		return rc;
	breakdown(ns, &z, &bt);
	return out_ints(ev, out, 3, bt.hour, bt.min, bt.sec);
}

static int
bi_weekday(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct zone	 z;
	struct btime	 bt;
	int64_t		 ns;
	int		 rc;

	if ((rc = time_arg(ev, "time.weekday", args[0], &ns, &z, NULL)) !=
	    SF_OK)
		return rc;
	breakdown(ns, &z, &bt);
	*out = rv_cstr(A, wdays[bt.wday]);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

/* Seconds of a civil UTC date/time (normalizing like Go's time.Date). */
static bool
to_ns(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s,
    int64_t nsec, int32_t off, int64_t *out)
{
	int64_t		 days, secs;
	__int128	 r;

	/* normalize month into year */
	mo -= 1;
	y += floordiv(mo, 12);
	mo -= floordiv(mo, 12) * 12;
	mo += 1;
	days = days_from_civil(y, mo, 1) + d - 1;
	secs = days * 86400 + h * 3600 + mi * 60 + s - off;
	r = (__int128)secs * NS + nsec;
	if (r > INT64_MAX || r < INT64_MIN)
		return false;
	*out = (int64_t)r;
	return true;
}

static int
bi_add_date(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct zone	 z;
	struct btime	 bt;
	int64_t		 ns, y, m, d, r;
	int		 rc;

	if ((rc = time_arg(ev, "time.add_date", args[0], &ns, &z, NULL)) !=
	    SF_OK ||
	    (rc = bi_arg_int(ev, "time.add_date", args, 1, &y)) != SF_OK ||
	    (rc = bi_arg_int(ev, "time.add_date", args, 2, &m)) != SF_OK ||
	    (rc = bi_arg_int(ev, "time.add_date", args, 3, &d)) != SF_OK)
		return rc;
	if (y > 1000000 || y < -1000000 || m > 12000000 || m < -12000000 ||
	    d > 400000000 || d < -400000000)
		return bi_err(ev, "time.add_date: time outside of valid range");
	breakdown(ns, &z, &bt);
	if (!to_ns(bt.year + y, bt.mon + m, bt.day + d, bt.hour, bt.min, bt.sec,
	    bt.nsec, bt.off, &r))
		return bi_err(ev, "time.add_date: time outside of valid range");
	*out = rv_int(A, r);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_diff(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct zone	 z1, z2;
	struct btime	 a, b;
	int64_t		 n1, n2, t;
	int64_t		 yr, mo, dy, hr, mi, se;
	struct rv	*v;
	int		 rc, i;

	if ((rc = time_arg(ev, "time.diff", args[0], &n1, &z1, NULL)) != SF_OK ||
	    (rc = time_arg(ev, "time.diff", args[1], &n2, &z2, NULL)) != SF_OK)
		return rc;
	if (n1 > n2) {
		t = n1;
		n1 = n2;
		n2 = t;
	}
	/* both in the first operand's zone */
	breakdown(n1, &z1, &a);
	breakdown(n2, &z1, &b);
	yr = b.year - a.year;
	mo = b.mon - a.mon;
	dy = b.day - a.day;
	hr = b.hour - a.hour;
	mi = b.min - a.min;
	se = b.sec - a.sec;
	if (se < 0) {
		se += 60;
		mi--;
	}
	if (mi < 0) {
		mi += 60;
		hr--;
	}
	if (hr < 0) {
		hr += 24;
		dy--;
	}
	if (dy < 0) {
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
		    30, 31, 30, 31 };
		int64_t dim = mdays[a.mon - 1] + (a.mon == 2 &&
		    is_leap(a.year));

		dy += dim;
		mo--;
	}
	if (mo < 0) {
		mo += 12;
		yr--;
	}
	if ((v = rv_arr(A, 6)) == NULL)
		return SF_ENOMEM;
	{
		int64_t x[6] = { yr, mo, dy, hr, mi, se };

		for (i = 0; i < 6; i++)
			if ((v->u.a[i] = rv_int(A, x[i])) == NULL)
				return SF_ENOMEM;
	}
	*out = v;
	return SF_OK;
}

/*
 * Go layouts.
 */
enum std {
	S_NONE = 0, S_LONGMONTH, S_MONTH, S_NUMMONTH, S_ZEROMONTH,
	S_LONGWEEKDAY, S_WEEKDAY, S_DAY, S_UNDERDAY, S_ZERODAY, S_UNDERYDAY,
	S_ZEROYDAY, S_HOUR, S_HOUR12, S_ZEROHOUR12, S_MINUTE, S_ZEROMINUTE,
	S_SECOND, S_ZEROSECOND, S_LONGYEAR, S_YEAR, S_PM, S_pm, S_TZ,
	S_ISO8601TZ, S_ISO8601SECONDSTZ, S_ISO8601SHORTTZ, S_ISO8601COLONTZ,
	S_ISO8601COLONSECONDSTZ, S_NUMTZ, S_NUMSECONDSTZ, S_NUMSHORTTZ,
	S_NUMCOLONTZ, S_NUMCOLONSECONDSTZ, S_FRACZERO, S_FRACNINE
};

struct chunk {
	size_t		 prefix;	/* literal bytes before the token */
	enum std	 std;
	size_t		 len;		/* token length */
	int		 digits;	/* fractional digits */
};

static bool
starts(const char *s, size_t n, const char *w)
{
	size_t	 m = strlen(w);

	return n >= m && memcmp(s, w, m) == 0;
}

/* Go's nextStdChunk. */
static void
next_chunk(const char *l, size_t n, struct chunk *c)
{
	size_t	 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < n; i++) {
		const char *s = l + i;
		size_t r = n - i;

		c->prefix = i;
		switch (s[0]) {
		case 'J':
			if (starts(s, r, "January")) {
				c->std = S_LONGMONTH; c->len = 7; return;
			}
			if (starts(s, r, "Jan")) {
				c->std = S_MONTH; c->len = 3; return;
			}
			break;
		case 'M':
			if (starts(s, r, "Monday")) {
				c->std = S_LONGWEEKDAY; c->len = 6; return;
			}
			if (starts(s, r, "Mon")) {
				c->std = S_WEEKDAY; c->len = 3; return;
			}
			if (starts(s, r, "MST")) {
				c->std = S_TZ; c->len = 3; return;
			}
			break;
		case '0':
			if (r >= 2 && s[1] >= '1' && s[1] <= '6') {
				static const enum std z[] = { S_ZEROMONTH,
				    S_ZERODAY, S_ZEROHOUR12, S_ZEROMINUTE,
				    S_ZEROSECOND, S_YEAR };

				c->std = z[s[1] - '1'];
				c->len = 2;
				return;
			}
			if (starts(s, r, "002")) {
				c->std = S_ZEROYDAY; c->len = 3; return;
			}
			break;
		case '1':
			if (starts(s, r, "15")) {
				c->std = S_HOUR; c->len = 2; return;
			}
			c->std = S_NUMMONTH;
			c->len = 1;
			return;
		case '2':
			if (starts(s, r, "2006")) {
				c->std = S_LONGYEAR; c->len = 4; return;
			}
			c->std = S_DAY;
			c->len = 1;
			return;
		case '_':
			if (starts(s, r, "_2")) {
				if (starts(s, r, "_2006")) {
					/* literal '_' then year */
					c->prefix = i + 1;
					c->std = S_LONGYEAR;
					c->len = 4;
					return;
				}
				if (starts(s, r, "__2")) {
					c->std = S_UNDERYDAY; c->len = 3;
					return;
				}
				c->std = S_UNDERDAY;
				c->len = 2;
				return;
			}
			break;
		case '3':
			c->std = S_HOUR12; c->len = 1; return;
		case '4':
			c->std = S_MINUTE; c->len = 1; return;
		case '5':
			c->std = S_SECOND; c->len = 1; return;
		case 'P':
			if (starts(s, r, "PM")) {
				c->std = S_PM; c->len = 2; return;
			}
			break;
		case 'p':
			if (starts(s, r, "pm")) {
				c->std = S_pm; c->len = 2; return;
			}
			break;
		case '-':
			if (starts(s, r, "-07:00:00")) {
				c->std = S_NUMCOLONSECONDSTZ; c->len = 9;
				return;
			}
			if (starts(s, r, "-0700")) {
				c->std = S_NUMTZ; c->len = 5; return;
			}
			if (starts(s, r, "-07:00")) {
				c->std = S_NUMCOLONTZ; c->len = 6; return;
			}
			if (starts(s, r, "-07")) {
				c->std = S_NUMSHORTTZ; c->len = 3; return;
			}
			if (starts(s, r, "-070000")) {
				c->std = S_NUMSECONDSTZ; c->len = 7; return;
			}
			break;
		case 'Z':
			if (starts(s, r, "Z07:00:00")) {
				c->std = S_ISO8601COLONSECONDSTZ; c->len = 9;
				return;
			}
			if (starts(s, r, "Z070000")) {
				c->std = S_ISO8601SECONDSTZ; c->len = 7;
				return;
			}
			if (starts(s, r, "Z0700")) {
				c->std = S_ISO8601TZ; c->len = 5; return;
			}
			if (starts(s, r, "Z07:00")) {
				c->std = S_ISO8601COLONTZ; c->len = 6; return;
			}
			if (starts(s, r, "Z07")) {
				c->std = S_ISO8601SHORTTZ; c->len = 3; return;
			}
			break;
		case '.':
		case ',':
			if (r >= 2 && (s[1] == '0' || s[1] == '9')) {
				size_t j = 1;

				while (j < r && s[j] == s[1])
					j++;
				if (j < r && isdigit((unsigned char)s[j]))
					break;
				c->std = s[1] == '0' ? S_FRACZERO : S_FRACNINE;
				c->len = j;
				c->digits = (int)(j - 1);
				return;
			}
			break;
		}
	}
	c->prefix = n;
	c->std = S_NONE;
}

static const char *
named_layout(const char *s, size_t n)
{
	static const struct { const char *name, *layout; } named[] = {
		{ "ANSIC", "Mon Jan _2 15:04:05 2006" },
		{ "UnixDate", "Mon Jan _2 15:04:05 MST 2006" },
		{ "RubyDate", "Mon Jan 02 15:04:05 -0700 2006" },
		{ "RFC822", "02 Jan 06 15:04 MST" },
		{ "RFC822Z", "02 Jan 06 15:04 -0700" },
		{ "RFC850", "Monday, 02-Jan-06 15:04:05 MST" },
		{ "RFC1123", "Mon, 02 Jan 2006 15:04:05 MST" },
		{ "RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700" },
		{ "RFC3339", "2006-01-02T15:04:05Z07:00" },
		{ "RFC3339Nano", "2006-01-02T15:04:05.999999999Z07:00" },
		{ "Kitchen", "3:04PM" },
		{ "Stamp", "Jan _2 15:04:05" },
		{ "StampMilli", "Jan _2 15:04:05.000" },
		{ "StampMicro", "Jan _2 15:04:05.000000" },
		{ "StampNano", "Jan _2 15:04:05.000000000" },
		{ "DateTime", "2006-01-02 15:04:05" },
		{ "DateOnly", "2006-01-02" },
		{ "TimeOnly", "15:04:05" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == n &&
		    memcmp(named[i].name, s, n) == 0)
			return named[i].layout;
	return NULL;
}

static void
put_tz(struct sbuf *b, int32_t off, enum std std)
{
	int32_t	 z = off;
	char	 sign = '+';

	if ((std == S_ISO8601TZ || std == S_ISO8601COLONTZ ||
	    std == S_ISO8601SHORTTZ || std == S_ISO8601SECONDSTZ ||
	    std == S_ISO8601COLONSECONDSTZ) && off == 0) {
		sbuf_putc(b, 'Z');
		return;
	}
	if (z < 0) {
		sign = '-';
		z = -z;
	}
	sbuf_printf(b, "%c%02d", sign, z / 3600);
	if (std == S_ISO8601SHORTTZ || std == S_NUMSHORTTZ)
		return;
	if (std == S_ISO8601COLONTZ || std == S_NUMCOLONTZ ||
	    std == S_ISO8601COLONSECONDSTZ || std == S_NUMCOLONSECONDSTZ)
		sbuf_putc(b, ':');
	sbuf_printf(b, "%02d", z / 60 % 60);
	if (std == S_ISO8601COLONSECONDSTZ || std == S_NUMCOLONSECONDSTZ)
		sbuf_printf(b, ":%02d", z % 60);
	else if (std == S_ISO8601SECONDSTZ || std == S_NUMSECONDSTZ)
		sbuf_printf(b, "%02d", z % 60);
}

static void
format_layout(struct sbuf *b, const char *l, size_t n, const struct btime *t)
{
	struct chunk	 c;
	int64_t		 h12;

	while (n > 0) {
		next_chunk(l, n, &c);
		sbuf_put(b, l, c.prefix);
		if (c.std == S_NONE)
			return;
		switch (c.std) {
		case S_LONGMONTH:
			sbuf_puts(b, months[t->mon - 1]);
			break;
		case S_MONTH:
			sbuf_put(b, months[t->mon - 1], 3);
			break;
		case S_NUMMONTH:
			sbuf_printf(b, "%lld", (long long)t->mon);
			break;
		case S_ZEROMONTH:
			sbuf_printf(b, "%02lld", (long long)t->mon);
			break;
		case S_LONGWEEKDAY:
			sbuf_puts(b, wdays[t->wday]);
			break;
		case S_WEEKDAY:
			sbuf_put(b, wdays[t->wday], 3);
			break;
		case S_DAY:
			sbuf_printf(b, "%lld", (long long)t->day);
			break;
		case S_UNDERDAY:
			sbuf_printf(b, "%2lld", (long long)t->day);
			break;
		case S_ZERODAY:
			sbuf_printf(b, "%02lld", (long long)t->day);
			break;
		case S_UNDERYDAY:
			sbuf_printf(b, "%3lld", (long long)t->yday);
			break;
		case S_ZEROYDAY:
			sbuf_printf(b, "%03lld", (long long)t->yday);
			break;
		case S_HOUR:
			sbuf_printf(b, "%02lld", (long long)t->hour);
			break;
		case S_HOUR12:
		case S_ZEROHOUR12:
			h12 = t->hour % 12;
			if (h12 == 0)
				h12 = 12;
			sbuf_printf(b, c.std == S_HOUR12 ? "%lld" : "%02lld",
			    (long long)h12);
			break;
		case S_MINUTE:
			sbuf_printf(b, "%lld", (long long)t->min);
			break;
		case S_ZEROMINUTE:
			sbuf_printf(b, "%02lld", (long long)t->min);
			break;
		case S_SECOND:
			sbuf_printf(b, "%lld", (long long)t->sec);
			break;
		case S_ZEROSECOND:
			sbuf_printf(b, "%02lld", (long long)t->sec);
			break;
		case S_LONGYEAR:
			sbuf_printf(b, "%04lld", (long long)t->year);
			break;
		case S_YEAR:
			sbuf_printf(b, "%02lld", (long long)(t->year % 100));
			break;
		case S_PM:
			sbuf_puts(b, t->hour >= 12 ? "PM" : "AM");
			break;
		case S_pm:
			sbuf_puts(b, t->hour >= 12 ? "pm" : "am");
			break;
		case S_TZ:
			if (t->abbr[0] != '\0')
				sbuf_puts(b, t->abbr);
			else
				put_tz(b, t->off, S_NUMTZ);
			break;
		case S_FRACZERO:
		case S_FRACNINE: {
			char	 frac[16];
			int	 d = c.digits > 9 ? 9 : c.digits;

			snprintf(frac, sizeof(frac), "%09lld",
			    (long long)t->nsec);
			frac[d] = '\0';
			if (c.std == S_FRACNINE) {
				while (d > 0 && frac[d - 1] == '0')
					frac[--d] = '\0';
				if (d == 0)
					break;
			}
			sbuf_putc(b, l[c.prefix]);
			sbuf_puts(b, frac);
			break;
		}
		default:
			put_tz(b, t->off, c.std);
			break;
		}
		l += c.prefix + c.len;
		n -= c.prefix + c.len;
	}
}

static int
bi_format(struct ev *ev, struct rv *const *args, struct rv **out)
{
	struct zone	 z;
	struct btime	 bt;
	const struct rv	*lay;
	const char	*l = "2006-01-02T15:04:05.999999999Z07:00";
	size_t		 ln;
	struct sbuf	 b;
	int64_t		 ns;
	int		 rc;

	if ((rc = time_arg(ev, "time.format", args[0], &ns, &z, &lay)) !=
	    SF_OK)
		return rc;
	ln = strlen(l);
	if (lay != NULL) {
		const char *nl = named_layout(lay->u.s, lay->n);

		l = nl != NULL ? nl : lay->u.s;
		ln = nl != NULL ? strlen(nl) : lay->n;
	}
	breakdown(ns, &z, &bt);
	sbuf_init(&b, A);
	format_layout(&b, l, ln, &bt);
	if (b.oom)
		return SF_ENOMEM;
	*out = rv_str_ref(A, b.s != NULL ? b.s : "", b.len);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

/* Parsing. */
static bool
getnum(const char **s, const char *e, int min, int max, int64_t *out)
{
	int	 n = 0;
	int64_t	 v = 0;

	while (*s < e && n < max && isdigit((unsigned char)**s)) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (n < min)
		return false;
	*out = v;
	return true;
}

static bool
lookup_name(const char **s, const char *e, const char *const *names,
    int count, bool abbrev, int64_t *out)
{
	int	 i;
	size_t	 m;

	for (i = 0; i < count; i++) {
		m = abbrev ? 3 : strlen(names[i]);
		if ((size_t)(e - *s) >= m && strncasecmp(*s, names[i], m) == 0) {
			*s += m;
			*out = i;
			return true;
		}
	}
	return false;
}

static bool
parse_tz(const char **s, const char *e, enum std std, int32_t *off)
{
	int64_t	 h = 0, m = 0, sec = 0;
	int	 sign;

	if ((std == S_ISO8601TZ || std == S_ISO8601COLONTZ ||
	    std == S_ISO8601SHORTTZ || std == S_ISO8601SECONDSTZ ||
	    std == S_ISO8601COLONSECONDSTZ) && *s < e && **s == 'Z') {
		(*s)++;
		*off = 0;
		return true;
	}
	if (*s >= e || (**s != '+' && **s != '-'))
		return false;
	sign = **s == '-' ? -1 : 1;
	(*s)++;
	if (!getnum(s, e, 2, 2, &h))
		return false;
	if (std != S_ISO8601SHORTTZ && std != S_NUMSHORTTZ) {
		if (std == S_ISO8601COLONTZ || std == S_NUMCOLONTZ ||
		    std == S_ISO8601COLONSECONDSTZ ||
		    std == S_NUMCOLONSECONDSTZ) {
			if (*s >= e || **s != ':')
				return false;
			(*s)++;
		}
		if (!getnum(s, e, 2, 2, &m))
			return false;
		if (std == S_ISO8601COLONSECONDSTZ ||
		    std == S_NUMCOLONSECONDSTZ) {
			if (*s >= e || **s != ':')
				return false;
			(*s)++;
			if (!getnum(s, e, 2, 2, &sec))
				return false;
		} else if (std == S_ISO8601SECONDSTZ ||
		    std == S_NUMSECONDSTZ) {
			if (!getnum(s, e, 2, 2, &sec))
				return false;
		}
	}
	*off = (int32_t)(sign * (h * 3600 + m * 60 + sec));
	return true;
}

static int
parse_time(struct ev *ev, const char *fn, const char *l, size_t ln,
    const char *v, size_t vn, int64_t *out)
{
	struct chunk	 c;
	const char	*s = v, *e = v + vn;
	int64_t		 year = 1, mon = 1, day = 1, hour = 0, min = 0, sec = 0;
	int64_t		 nsec = 0, x, pm = -1;
	int32_t		 off = 0;
	bool		 have_off = false;

	while (ln > 0) {
		next_chunk(l, ln, &c);
		if ((size_t)(e - s) < c.prefix || memcmp(s, l, c.prefix) != 0)
			goto bad;
		s += c.prefix;
		if (c.std == S_NONE)
			break;
		switch (c.std) {
		case S_LONGMONTH:
		case S_MONTH:
			if (!lookup_name(&s, e, months, 12,
			    c.std == S_MONTH, &x))
				goto bad;
			mon = x + 1;
			break;
		case S_NUMMONTH:
		case S_ZEROMONTH:
			if (!getnum(&s, e, c.std == S_ZEROMONTH ? 2 : 1, 2,
			    &mon) || mon < 1 || mon > 12)
				goto bad;
			break;
		case S_LONGWEEKDAY:
		case S_WEEKDAY:
			if (!lookup_name(&s, e, wdays, 7, c.std == S_WEEKDAY,
			    &x))
				goto bad;
			break;
		case S_DAY:
		case S_UNDERDAY:
		case S_ZERODAY:
			if (c.std == S_UNDERDAY && s < e && *s == ' ')
				s++;
			if (!getnum(&s, e, c.std == S_ZERODAY ? 2 : 1, 2, &day))
				goto bad;
			break;
		case S_UNDERYDAY:
		case S_ZEROYDAY:
			while (c.std == S_UNDERYDAY && s < e && *s == ' ')
				s++;
			if (!getnum(&s, e, 1, 3, &x))
				goto bad;
			break;
		case S_HOUR:
			if (!getnum(&s, e, 2, 2, &hour) || hour > 23)
				goto bad;
			break;
		case S_HOUR12:
		case S_ZEROHOUR12:
			if (!getnum(&s, e, c.std == S_ZEROHOUR12 ? 2 : 1, 2,
			    &hour) || hour > 12)
				goto bad;
			break;
		case S_MINUTE:
		case S_ZEROMINUTE:
			if (!getnum(&s, e, c.std == S_ZEROMINUTE ? 2 : 1, 2,
			    &min) || min > 59)
				goto bad;
			break;
		case S_SECOND:
		case S_ZEROSECOND:
			if (!getnum(&s, e, c.std == S_ZEROSECOND ? 2 : 1, 2,
			    &sec) || sec > 60)
				goto bad;
			/* a fractional second may follow without layout */
			if (s < e && (*s == '.' || *s == ',') && s + 1 < e &&
			    isdigit((unsigned char)s[1])) {
				struct chunk	 nc;

				next_chunk(l + c.prefix + c.len, ln - c.prefix -
				    c.len, &nc);
				if (nc.prefix == 0 && (nc.std == S_FRACZERO ||
				    nc.std == S_FRACNINE))
					break;
				s++;
				x = 0;
				{
					int d = 0;

					while (s < e &&
					    isdigit((unsigned char)*s)) {
						if (d < 9) {
							nsec = nsec * 10 +
							    (*s - '0');
							d++;
						}
						s++;
					}
					while (d++ < 9)
						nsec *= 10;
				}
			}
			break;
		case S_LONGYEAR:
			if (!getnum(&s, e, 4, 4, &year))
				goto bad;
			break;
		case S_YEAR:
			if (!getnum(&s, e, 2, 2, &year))
				goto bad;
			year += year >= 69 ? 1900 : 2000;
			break;
		case S_PM:
		case S_pm:
			if ((size_t)(e - s) < 2)
				goto bad;
			if (strncasecmp(s, "PM", 2) == 0)
				pm = 1;
			else if (strncasecmp(s, "AM", 2) == 0)
				pm = 0;
			else
				goto bad;
			s += 2;
			break;
		case S_TZ:
			if (e - s >= 3 && memcmp(s, "UTC", 3) == 0) {
				s += 3;
				have_off = true;
				off = 0;
				break;
			}
			while (s < e && isupper((unsigned char)*s))
				s++;
			break;
		case S_FRACZERO:
		case S_FRACNINE: {
			int	 d = 0;

			if (s >= e || (*s != '.' && *s != ',')) {
				if (c.std == S_FRACNINE)
					break;
				goto bad;
			}
			s++;
			while (s < e && isdigit((unsigned char)*s)) {
				if (d < 9) {
					nsec = nsec * 10 + (*s - '0');
					d++;
				}
				s++;
			}
			if (c.std == S_FRACZERO && d != c.digits)
				goto bad;
			while (d++ < 9)
				nsec *= 10;
			break;
		}
		default:
			if (!parse_tz(&s, e, c.std, &off))
				goto bad;
			have_off = true;
			break;
		}
		l += c.prefix + c.len;
		ln -= c.prefix + c.len;
	}
	if (s != e)
		goto bad;
	if (pm == 1 && hour < 12)
		hour += 12;
	else if (pm == 0 && hour == 12)
		hour = 0;
	{
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
		    31, 30, 31 };

		if (day < 1 || day > mdays[mon - 1] + (mon == 2 &&
		    is_leap(year)))
			goto bad;
	}
	(void)have_off;
	if (!to_ns(year, mon, day, hour, min, sec, nsec, off, out))
		return bi_err(ev, "%s: time outside of valid range", fn);
	return SF_OK;
bad:
	return bi_err(ev, "%s: parsing time \"%.*s\" as \"%.*s\": cannot "
	    "parse", fn, (int)(vn > 64 ? 64 : vn), v, (int)(ln > 64 ? 64 : ln),
	    l);
}

static int
bi_parse_ns(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*l, *v, *nl;
	size_t		 ln, vn;
	int64_t		 ns;
	int		 rc;

	if ((rc = bi_arg_str(ev, "time.parse_ns", args, 0, &l, &ln)) != SF_OK ||
	    (rc = bi_arg_str(ev, "time.parse_ns", args, 1, &v, &vn)) != SF_OK)
		return rc;
	if ((nl = named_layout(l, ln)) != NULL) {
		l = nl;
		ln = strlen(nl);
	}
	if ((rc = parse_time(ev, "time.parse_ns", l, ln, v, vn, &ns)) != SF_OK)
		return rc;
	*out = rv_int(A, ns);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

static int
bi_parse_rfc3339_ns(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*v;
	size_t		 vn;
	int64_t		 ns;
	int		 rc;

	if ((rc = bi_arg_str(ev, "time.parse_rfc3339_ns", args, 0, &v, &vn)) !=
	    SF_OK)
		return rc;
	if ((rc = parse_time(ev, "time.parse_rfc3339_ns",
	    "2006-01-02T15:04:05Z07:00", 25, v, vn, &ns)) != SF_OK)
		return rc;
	*out = rv_int(A, ns);
	return *out == NULL ? SF_ENOMEM : SF_OK;
}

/* Go's time.ParseDuration. */
static int
bi_parse_duration_ns(struct ev *ev, struct rv *const *args, struct rv **out)
{
	const char	*s, *e;
	size_t		 n;
	double		 total = 0;
	bool		 neg = false;
	int		 rc;

	if ((rc = bi_arg_str(ev, "time.parse_duration_ns", args, 0, &s, &n)) !=
	    SF_OK)
		return rc;
	e = s + n;
	if (s < e && (*s == '-' || *s == '+')) {
		neg = *s == '-';
		s++;
	}
	if (e - s == 1 && *s == '0')
		goto done;
	if (s == e)
		goto bad;
	while (s < e) {
		double	 v = 0, frac = 0, scale = 1, unit;
		bool	 digits = false;

		while (s < e && isdigit((unsigned char)*s)) {
			v = v * 10 + (*s++ - '0');
			digits = true;
		}
		if (s < e && *s == '.') {
			s++;
			while (s < e && isdigit((unsigned char)*s)) {
				frac = frac * 10 + (*s++ - '0');
				scale *= 10;
				digits = true;
			}
		}
		if (!digits)
			goto bad;
		if (e - s >= 2 && memcmp(s, "ns", 2) == 0) {
			unit = 1;
			s += 2;
		} else if (e - s >= 2 && memcmp(s, "us", 2) == 0) {
			unit = 1e3;
			s += 2;
		} else if (e - s >= 3 && memcmp(s, "\xc2\xb5s", 3) == 0) {
			unit = 1e3;
			s += 3;
		} else if (e - s >= 3 && memcmp(s, "\xce\xbcs", 3) == 0) {
			unit = 1e3;
			s += 3;
		} else if (e - s >= 2 && memcmp(s, "ms", 2) == 0) {
			unit = 1e6;
			s += 2;
		} else if (s < e && *s == 's') {
			unit = 1e9;
			s++;
		} else if (s < e && *s == 'm') {
			unit = 60e9;
			s++;
		} else if (s < e && *s == 'h') {
			unit = 3600e9;
			s++;
		} else
			goto bad;
		total += (v + frac / scale) * unit;
		if (total > 9.2233720368547758e18)
			return bi_err(ev, "time.parse_duration_ns: invalid "
			    "duration");
	}
done:
	*out = rv_int(A, (int64_t)(neg ? -total : total));
	return *out == NULL ? SF_ENOMEM : SF_OK;
bad:
	return bi_err(ev, "time.parse_duration_ns: time: invalid duration "
	    "\"%.*s\"", (int)(n > 64 ? 64 : n), args[0]->u.s);
}

const struct builtin bi_time[] = {
	{ "time.now_ns", 0, bi_now_ns, BI_NONDET },
	{ "time.date", 1, bi_date, 0 },
	{ "time.clock", 1, bi_clock, 0 },
	{ "time.weekday", 1, bi_weekday, 0 },
	{ "time.add_date", 4, bi_add_date, 0 },
	{ "time.diff", 2, bi_diff, 0 },
	{ "time.format", 1, bi_format, 0 },
	{ "time.parse_ns", 2, bi_parse_ns, 0 },
	{ "time.parse_rfc3339_ns", 1, bi_parse_rfc3339_ns, 0 },
	{ "time.parse_duration_ns", 1, bi_parse_duration_ns, 0 },
	{ NULL, 0, NULL, 0 }
};
