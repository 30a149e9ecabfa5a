/*
 * lexer.c - tokens of Rego v1 source.
 *
 * Each token records whether whitespace or a newline precedes it; the
 * parser uses this to separate the expressions of a body and to tell a
 * reference (x[0], f(x)) from two terms.  A keyword written immediately
 * before a '.' and a name (input.x's "default.x", "as.foo") is a plain
 * name: OPA allows keywords as reference segments.
 */
#include <string.h>

#include "policy/rego.h"

static const struct {
	const char	*w;
	enum tok	 t;
} keywords[] = {
	{ "package", TK_PACKAGE }, { "import", TK_IMPORT }, { "as", TK_AS },
	{ "default", TK_DEFAULT }, { "else", TK_ELSE }, { "not", TK_NOT },
	{ "with", TK_WITH }, { "some", TK_SOME }, { "every", TK_EVERY },
	{ "in", TK_IN }, { "contains", TK_CONTAINS }, { "if", TK_IF },
	{ "true", TK_TRUE }, { "false", TK_FALSE }, { "null", TK_NULL },
};

void
lex_init(struct lexer *lx, struct arena *a, const char *file, const char *src,
    size_t len)
{
	lx->a = a;
	lx->src = lx->p = src;
	lx->end = src + len;
	lx->file = file;
	lx->line = 1;
	lx->bol = src;
}

static bool
is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_ident(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static void
lex_err(struct lexer *lx, struct token *t, const char *msg)
{
	(void)lx;
	t->t = TK_ERR;
	t->str = (char *)msg;
	t->slen = strlen(msg);
}

/* A double-quoted string with JSON escapes. */
static void
lex_string(struct lexer *lx, struct token *t)
{
	const char	*p = lx->p + 1;
	char		*out;
	size_t		 n = 0;
	uint32_t	 cp, lo;
	int		 i, h;

	/* Decoded text is never longer than the source. */
	while (p < lx->end && *p != '"') {
		if (*p == '\n') {
			lex_err(lx, t, "non-terminated string");
			return;
		}
		if (*p == '\\')
			p++;
		p++;
	}
	if (p >= lx->end) {
		lex_err(lx, t, "non-terminated string");
		return;
	}
	if ((out = arena_alloc(lx->a, (size_t)(p - lx->p) + 1)) == NULL) {
		lex_err(lx, t, "out of memory");
		return;
	}
	for (p = lx->p + 1; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20) {
			lex_err(lx, t, "invalid character in string");
			return;
		}
		if (*p != '\\') {
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case '"': out[n++] = '"'; break;
		case '\\': out[n++] = '\\'; break;
		case '/': out[n++] = '/'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u':
			cp = 0;
			for (i = 1; i <= 4; i++) {
				if (p + i >= lx->end ||
				    (h = hexdigit((unsigned char)p[i])) < 0) {
					lex_err(lx, t, "illegal escape sequence");
					return;
				}
				cp = cp * 16 + (uint32_t)h;
			}
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p + 6 < lx->end &&
			    p[1] == '\\' && p[2] == 'u') {
				lo = 0;
				for (i = 3; i <= 6; i++) {
					if ((h = hexdigit((unsigned char)p[i])) < 0)
						break;
					lo = lo * 16 + (uint32_t)h;
				}
				if (i == 7 && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					p += 6;
				} else
					cp = 0xfffd;
			} else if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd;
			n += rego_utf8_encode(cp, out + n);
			break;
		default:
			lex_err(lx, t, "illegal escape sequence");
			return;
		}
	}
	out[n] = '\0';
	t->t = TK_STRING;
	t->str = out;
	t->slen = n;
	lx->p = p + 1;
}

static void
lex_raw(struct lexer *lx, struct token *t)
{
	const char	*p = lx->p + 1;

	while (p < lx->end && *p != '`')
		p++;
	if (p >= lx->end) {
		lex_err(lx, t, "non-terminated raw string");
		return;
	}
	t->t = TK_STRING;
	t->str = arena_strndup(lx->a, lx->p + 1, (size_t)(p - lx->p - 1));
	t->slen = (size_t)(p - lx->p - 1);
	if (t->str == NULL) {
		lex_err(lx, t, "out of memory");
		return;
	}
	/* Raw strings may span lines. */
	for (const char *q = lx->p; q < p; q++)
		if (*q == '\n') {
			lx->line++;
			lx->bol = q + 1;
		}
	lx->p = p + 1;
}

static void
lex_number(struct lexer *lx, struct token *t)
{
	const char	*p = lx->p;

	while (p < lx->end && *p >= '0' && *p <= '9')
		p++;
	if (p + 1 < lx->end && *p == '.' && p[1] >= '0' && p[1] <= '9') {
		p++;
		while (p < lx->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < lx->end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;

		if (q < lx->end && (*q == '+' || *q == '-'))
			q++;
		if (q < lx->end && *q >= '0' && *q <= '9') {
			p = q;
			while (p < lx->end && *p >= '0' && *p <= '9')
				p++;
		}
	}
	if (p < lx->end && is_ident_start((unsigned char)*p)) {
		lex_err(lx, t, "invalid number");
		return;
	}
	t->t = TK_NUMBER;
	lx->p = p;
}

void
lex_next(struct lexer *lx, struct token *t)
{
	const char	*p;
	size_t		 i, n;
	int		 c;

	memset(t, 0, sizeof(*t));
	for (;;) {
		if (lx->p >= lx->end)
			break;
		c = (unsigned char)*lx->p;
		if (c == '\n') {
			t->nl = t->ws = true;
			lx->line++;
			lx->p++;
			lx->bol = lx->p;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			t->ws = true;
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else
			break;
	}
	t->p = lx->p;
	t->loc.file = lx->file;
	t->loc.line = lx->line;
	t->loc.col = (uint32_t)(lx->p - lx->bol) + 1;
	if (lx->p >= lx->end) {
		t->t = TK_EOF;
		return;
	}
	p = lx->p;
	c = (unsigned char)*p;
	if (is_ident_start(c)) {
		while (p < lx->end && is_ident((unsigned char)*p))
			p++;
		n = (size_t)(p - lx->p);
		t->t = TK_IDENT;
		/* keyword, unless directly followed by ".name" (or, for
		 * the builtin "contains", by a call's '(') */
		if (!(p + 1 < lx->end && *p == '.' &&
		    is_ident_start((unsigned char)p[1])) &&
		    !(n == 8 && memcmp(lx->p, "contains", 8) == 0 &&
		    p < lx->end && *p == '(')) {
			for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]);
			    i++)
				if (strlen(keywords[i].w) == n &&
				    memcmp(keywords[i].w, lx->p, n) == 0) {
					t->t = keywords[i].t;
					break;
				}
		}
		lx->p = p;
		t->n = n;
		return;
	}
	if (c >= '0' && c <= '9') {
		lex_number(lx, t);
		t->n = (size_t)(lx->p - t->p);
		return;
	}
	if (c == '"') {
		lex_string(lx, t);
		t->n = (size_t)(lx->p - t->p);
		return;
	}
	if (c == '`') {
		lex_raw(lx, t);
		t->n = (size_t)(lx->p - t->p);
		return;
	}
	lx->p++;
	t->n = 1;
	switch (c) {
	case '{': t->t = TK_LBRACE; return;
	case '}': t->t = TK_RBRACE; return;
	case '[': t->t = TK_LBRACK; return;
	case ']': t->t = TK_RBRACK; return;
	case '(': t->t = TK_LPAREN; return;
	case ')': t->t = TK_RPAREN; return;
	case '.': t->t = TK_DOT; return;
	case ',': t->t = TK_COMMA; return;
	case ';': t->t = TK_SEMI; return;
	case '+': t->t = TK_PLUS; return;
	case '-': t->t = TK_MINUS; return;
	case '*': t->t = TK_STAR; return;
	case '/': t->t = TK_SLASH; return;
	case '%': t->t = TK_PERCENT; return;
	case '&': t->t = TK_AMP; return;
	case '|': t->t = TK_BAR; return;
	case ':':
		if (lx->p < lx->end && *lx->p == '=') {
			lx->p++;
			t->n = 2;
			t->t = TK_ASSIGN;
		} else
			t->t = TK_COLON;
		return;
	case '=':
		if (lx->p < lx->end && *lx->p == '=') {
			lx->p++;
			t->n = 2;
			t->t = TK_EQ;
		} else
			t->t = TK_UNIFY;
		return;
	case '!':
		if (lx->p < lx->end && *lx->p == '=') {
			lx->p++;
			t->n = 2;
			t->t = TK_NE;
			return;
		}
		break;
	case '<':
		if (lx->p < lx->end && *lx->p == '=') {
			lx->p++;
			t->n = 2;
			t->t = TK_LE;
		} else
			t->t = TK_LT;
		return;
	case '>':
		if (lx->p < lx->end && *lx->p == '=') {
			lx->p++;
			t->n = 2;
			t->t = TK_GE;
		} else
			t->t = TK_GT;
		return;
	default:
		break;
	}
	lex_err(lx, t, "illegal token");
}

const char *
tok_name(enum tok t)
{
	static const char *names[] = {
		"end of file", "error", "identifier", "string", "number",
		"{", "}", "[", "]", "(", ")", ".", ",", ";", ":", ":=", "=",
		"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%",
		"&", "|", "package", "import", "as", "default", "else", "not",
		"with", "some", "every", "in", "contains", "if", "true",
		"false", "null"
	};

	if ((size_t)t < sizeof(names) / sizeof(names[0]))
		return names[t];
	return "token";
}
