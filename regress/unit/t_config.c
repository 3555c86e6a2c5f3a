/*
 * Unit tests for the configuration grammar (common/parse.y, config.c,
 * printconf.c).
 *
 * The parent sends every child the printout of its configuration and the
 * children parse it with config_parse_text(), so for every good case in
 * regress/config the file -> text -> text parse -> text round trip must
 * give identical text.  The broken cases are parsed in-process too: the
 * error lines must match N.ok, and under ASan (leak detection on, unlike
 * the daemon runs in test_config.sh) the error paths must not leak.
 *
 * The rest checks what only generated input reaches: the bounds
 * (string length, macro name, server and host lists, listeners, reply
 * text) and what config_parse_text() refuses.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tlsopts.h"
#include "log.h"
#include "test.h"

#define CAPTURE_LEN	(256 * 1024)

static char	 capbuf[CAPTURE_LEN];
static char	 confdir[PATH_MAX];
static int	 saved_stderr = -1;

/*
 * The parser logs every error to stderr as well; keep the test output
 * readable (T_CONFIG_VERBOSE=1 shows it).  log_capture() still gets them.
 */
static void
quiet(void)
{
	int	 fd;

	fflush(stderr);
	if (getenv("T_CONFIG_VERBOSE") != NULL)
		return;
	if ((fd = open("/dev/null", O_WRONLY)) == -1)
		return;
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static void
unquiet(void)
{
	if (saved_stderr == -1)
		return;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
}

static struct smtpcertd_conf *
parse_text(const char *text, size_t len)
{
	struct smtpcertd_conf	*conf;

	log_capture(capbuf, sizeof(capbuf));
	quiet();
	conf = config_parse_text("t", text, len);
	unquiet();
	log_capture(NULL, 0);
	return conf;
}

static struct smtpcertd_conf *
parse_file(const char *path)
{
	struct smtpcertd_conf	*conf;

	log_capture(capbuf, sizeof(capbuf));
	quiet();
	conf = config_parse_file(path);
	unquiet();
	log_capture(NULL, 0);
	return conf;
}

/* Did the last parse log this line (exactly), how many times? */
static int
logged(const char *line)
{
	const char	*p = capbuf, *e;
	size_t		 n = strlen(line);
	int		 count = 0;

	while (*p != '\0') {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == n && memcmp(p, line, n) == 0)
			count++;
		p = *e == '\n' ? e + 1 : e;
	}
	return count;
}

/* A line of the last parse contains this text. */
static int
logged_sub(const char *sub)
{
	return strstr(capbuf, sub) != NULL;
}

static void
show_log(const char *what)
{
	fprintf(stderr, "  %s; logged:\n%s\n", what, capbuf);
}

/* A growing text buffer for generated configurations. */
struct sbuf {
	char	*s;
	size_t	 len, size;
};

static void
sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (b->len + (size_t)n + 1 > b->size) {
		size_t	 size = (b->size ? b->size : 4096);

		while (b->len + (size_t)n + 1 > size)
			size *= 2;
		if ((b->s = realloc(b->s, size)) == NULL)
			abort();
		b->size = size;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
sb_repeat(struct sbuf *b, char c, size_t n)
{
	while (n-- > 0)
		sb_add(b, "%c", c);
}

static int
sb_lines(const struct sbuf *b)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < b->len; i++)
		if (b->s[i] == '\n')
			n++;
	return n;
}

static void
sb_free(struct sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 size = 0, len = 0, n;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > size) {
			size = size ? size * 2 : 8192;
			if ((buf = realloc(buf, size)) == NULL)
				abort();
		}
		if ((n = fread(buf + len, 1, size - len - 1, fp)) == 0)
			break;
		len += n;
	}
	fclose(fp);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static int
write_file(const char *path, const char *text, size_t len)
{
	FILE	*fp;
	int	 ok;

	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	ok = fwrite(text, 1, len, fp) == len;
	if (fclose(fp) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/*
 * The round trip of one configuration: text (a printout) -> parse ->
 * print must give the same text.  Returns 0 if it does.
 */
static int
round_trip(const char *label, const char *text, size_t len)
{
	struct smtpcertd_conf	*conf;
	char			*text2;
	size_t			 len2;
	int			 r = -1;

	if ((conf = parse_text(text, len)) == NULL) {
		fprintf(stderr, "  %s: the printout does not parse:\n%s\n",
		    label, capbuf);
		return -1;
	}
	if ((text2 = config_text(conf, &len2)) == NULL)
		fprintf(stderr, "  %s: config_text failed\n", label);
	else if (len2 != len || memcmp(text, text2, len) != 0) {
		size_t	 i, line = 1;

		for (i = 0; i < len && i < len2 && text[i] == text2[i]; i++)
			if (text[i] == '\n')
				line++;
		fprintf(stderr, "  %s: printout of the re-parsed printout "
		    "differs at line %zu\n", label, line);
	} else
		r = 0;
	free(text2);
	config_free(conf);
	return r;
}

/*
 * Where regress/config is: $TOP/regress/config, relative to this source
 * file (the build compiles it as regress/unit/t_config.c from the top),
 * relative to the binary (BUILD/regress/t_config, BUILD in the top), or
 * ./regress/config.
 */
static int
find_confdir(void)
{
	char		 cand[4][PATH_MAX], exe[PATH_MAX], probe[PATH_MAX + 16];
	const char	*top, *file = __FILE__;
	char		*p;
	ssize_t		 n;
	int		 i, ncand = 0;

	if ((top = getenv("TOP")) != NULL && *top != '\0' &&
	    snprintf(cand[ncand], PATH_MAX, "%s/regress/config", top) <
	    PATH_MAX)
		ncand++;
	/* __FILE__ is .../regress/unit/t_config.c */
	snprintf(cand[ncand], PATH_MAX, "%s", file);
	for (i = 0; i < 2; i++)
		if ((p = strrchr(cand[ncand], '/')) != NULL)
			*p = '\0';
		else
			cand[ncand][0] = '\0';
	if (cand[ncand][0] != '\0') {
		strncat(cand[ncand], "/config",
		    PATH_MAX - strlen(cand[ncand]) - 1);
		ncand++;
	}
	/* /proc/self/exe is TOP/BUILD/regress/t_config */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		for (i = 0; i < 3; i++)
			if ((p = strrchr(exe, '/')) != NULL)
				*p = '\0';
		if (snprintf(cand[ncand], PATH_MAX, "%s/regress/config",
		    exe) < PATH_MAX)
			ncand++;
	}
	snprintf(cand[ncand++], PATH_MAX, "./regress/config");

	for (i = 0; i < ncand; i++) {
		if (snprintf(probe, sizeof(probe), "%s/01.conf",
		    cand[i]) >= (int)sizeof(probe))
			continue;
		if (access(probe, R_OK) == 0 &&
		    realpath(cand[i], confdir) != NULL)
			return 0;
	}
	return -1;
}

/* N.flags: "-D name=value" (or "-Dname=value") arguments. */
static int
apply_flags(const char *n)
{
	char	 path[64], *text, *tok, *save = NULL;
	int	 want_def = 0, r = 0;

	snprintf(path, sizeof(path), "%s.flags", n);
	if ((text = read_file(path, NULL)) == NULL)
		return 0;
	for (tok = strtok_r(text, " \t\n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\n", &save)) {
		if (want_def) {
			if (config_define_macro(tok) == -1)
				r = -1;
			want_def = 0;
		} else if (strcmp(tok, "-D") == 0)
			want_def = 1;
		else if (strncmp(tok, "-D", 2) == 0) {
			if (config_define_macro(tok + 2) == -1)
				r = -1;
		} else {
			fprintf(stderr, "  %s: unknown flag %s\n", path, tok);
			r = -1;
		}
	}
	free(text);
	return r;
}

/* test_config.sh's rule: a broken case's N.ok starts with "N.conf:". */
static int
is_broken(const char *n, const char *ok)
{
	char	 pfx[64];

	snprintf(pfx, sizeof(pfx), "%s.conf:", n);
	return strncmp(ok, pfx, strlen(pfx)) == 0;
}

/* The "file:line: message" lines of the capture, as test_config.sh
 * filters the daemon's stderr. */
static char *
error_lines(void)
{
	struct sbuf	 b = { NULL, 0, 0 };
	const char	*p = capbuf, *e, *q;

	sb_add(&b, "%s", "");
	while (*p != '\0') {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		for (q = p; q < e && *q != ' ' && *q != ':'; q++)
			;
		if (q > p && q < e && *q == ':' && isdigit((unsigned char)q[1])) {
			for (q++; q < e && isdigit((unsigned char)*q); q++)
				;
			if (q + 1 < e && q[0] == ':' && q[1] == ' ')
				sb_add(&b, "%.*s\n", (int)(e - p), p);
		}
		p = *e == '\n' ? e + 1 : e;
	}
	return b.s;
}

static int
case_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The case names (N of N.conf), sorted; NULL-terminated. */
static char **
list_cases(void)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL;
	size_t		 n = 0, len;

	if ((d = opendir(".")) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || !isdigit((unsigned char)de->d_name[0]) ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if ((v = reallocarray(v, n + 2, sizeof(*v))) == NULL ||
		    (v[n] = strndup(de->d_name, len - 5)) == NULL)
			abort();
		n++;
	}
	closedir(d);
	if (v == NULL)
		return NULL;
	v[n] = NULL;
	qsort(v, n, sizeof(*v), case_cmp);
	return v;
}

static void
free_cases(char **v)
{
	size_t	 i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * Every good case: parse the file, print, parse the printout as a child
 * does, print again: identical, and the first printout is N.ok.
 */
static void
test_good_cases_round_trip(void)
{
	char		**cases, path[64], *ok, *text;
	size_t		 i, len;
	int		 ngood = 0;
	struct smtpcertd_conf *conf;

	CHECK((cases = list_cases()) != NULL);
	for (i = 0; cases != NULL && cases[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s.ok", cases[i]);
		if ((ok = read_file(path, NULL)) == NULL) {
			fprintf(stderr, "  %s: missing\n", path);
			CHECK(!"N.ok exists");
			continue;
		}
		if (is_broken(cases[i], ok)) {
			free(ok);
			continue;
		}
		ngood++;
		CHECK(apply_flags(cases[i]) == 0);
		snprintf(path, sizeof(path), "%s.conf", cases[i]);
		if ((conf = parse_file(path)) == NULL) {
			fprintf(stderr, "  %s: refused:\n%s\n", path, capbuf);
			CHECK(!"good case parses");
			free(ok);
			continue;
		}
		text = config_text(conf, &len);
		CHECK(text != NULL);
		if (text != NULL) {
			if (strcmp(text, ok) != 0) {
				fprintf(stderr, "  %s: printout is not "
				    "%s.ok\n", path, cases[i]);
				CHECK(!"printout matches N.ok");
			}
			if (round_trip(path, text, len) == -1)
				CHECK(!"round trip gives identical text");
		}
		free(text);
		config_free(conf);
		free(ok);
	}
	CHECK(ngood >= 10);
	free_cases(cases);
}

/*
 * Every broken case in-process: refused, with the N.ok error lines.
 */
static void
test_broken_cases_errors(void)
{
	char		**cases, path[64], *ok, *got;
	size_t		 i;
	int		 nbroken = 0;
	struct smtpcertd_conf *conf;

	CHECK((cases = list_cases()) != NULL);
	for (i = 0; cases != NULL && cases[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s.ok", cases[i]);
		if ((ok = read_file(path, NULL)) == NULL)
			continue;	/* reported above */
		if (!is_broken(cases[i], ok)) {
			free(ok);
			continue;
		}
		nbroken++;
		CHECK(apply_flags(cases[i]) == 0);
		snprintf(path, sizeof(path), "%s.conf", cases[i]);
		conf = parse_file(path);
		if (conf != NULL) {
			fprintf(stderr, "  %s: accepted\n", path);
			CHECK(!"broken case refused");
			config_free(conf);
		}
		got = error_lines();
		if (strcmp(got, ok) != 0) {
			fprintf(stderr, "  %s: error lines differ; got:\n%s",
			    path, got);
			CHECK(!"error lines match N.ok");
		}
		free(got);
		free(ok);
	}
	CHECK(nbroken >= 10);
	free_cases(cases);
}

/* Objects every generated listener configuration refers to. */
static void
base_config(struct sbuf *b)
{
	sb_add(b,
	    "hostname \"gw.example.com\"\n"
	    "pki \"gw\" cert \"/c\" key \"/k\"\n"
	    "ca \"c\" file \"/ca.pem\"\n"
	    "crl \"c\" { ca \"c\" url \"http://crl.example.com/c.crl\" }\n"
	    "ldap \"l\" {\n"
	    "\tserver \"ldap://127.0.0.1\"\n"
	    "\tbase \"dc=example,dc=com\"\n"
	    "\tcertificate query \"cq\" { filter \"(cn={cn})\" }\n"
	    "\tsmtp-auth query \"sq\" { filter \"(uid={u})\" }\n"
	    "}\n"
	    "auth-profile \"cert\" certificate ldap \"l\" query \"cq\"\n"
	    "auth-profile \"sa\" ldap \"l\" query \"sq\"\n"
	    "policy \"p\" { tls preferred }\n"
	    "policy \"v\" { verify client-certificate }\n"
	    "relay \"r\" host \"192.0.2.25\"\n");
}

static void
test_text_refuses_include(void)
{
	static const char	 text[] = "hostname \"gw\"\n"
	    "include \"/etc/smtpcertd/smtpcertd.conf\"\n";
	struct smtpcertd_conf	*conf;

	conf = parse_text(text, sizeof(text) - 1);
	CHECK(conf == NULL);
	config_free(conf);
	CHECK(logged("t:2: include is not allowed here") == 1);
	/* only that: the include is not attempted */
	CHECK(!logged_sub("cannot open"));
}

static void
test_text_respects_length(void)
{
	/* Only len bytes are the configuration: no NUL needed. */
	static const char	 text[] = "hostname \"gw\"\nbogus statement\n";
	struct smtpcertd_conf	*conf;

	conf = parse_text(text, strlen("hostname \"gw\"\n"));
	CHECK(conf != NULL);
	if (conf != NULL)
		CHECK(strcmp(conf->hostname, "gw") == 0);
	config_free(conf);
	conf = parse_text(text, sizeof(text) - 1);
	CHECK(conf == NULL);
	CHECK(logged("t:2: syntax error") == 1);
}

static void
test_string_length_limit(void)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;
	char			*text;
	size_t			 len, i;

	/* A quoted string of CONFIG_STRING_MAX is accepted, escapes
	 * counted once, and survives the round trip. */
	sb_add(&b, "hostname \"gw\"\nldap \"l\" {\n\tserver \"ldap://x\"\n"
	    "\tbase \"");
	for (i = 0; i < CONFIG_STRING_MAX / 4; i++)
		sb_add(&b, "a\\\"\\\\b");	/* a " \ b */
	sb_add(&b, "\"\n}\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf != NULL);
	if (conf != NULL) {
		CHECK(strlen(TAILQ_FIRST(&conf->ldaps)->base) ==
		    CONFIG_STRING_MAX);
		CHECK(strncmp(TAILQ_FIRST(&conf->ldaps)->base, "a\"\\b",
		    4) == 0);
		CHECK((text = config_text(conf, &len)) != NULL);
		if (text != NULL)
			CHECK(round_trip("max-length string", text, len) == 0);
		free(text);
		config_free(conf);
	} else
		show_log("max-length string refused");
	sb_free(&b);

	/* One more octet: refused by the lexer. */
	sb_add(&b, "hostname \"gw\"\nuser \"");
	sb_repeat(&b, 'u', CONFIG_STRING_MAX + 1);
	sb_add(&b, "\"\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf == NULL);
	CHECK(logged("t:2: string too long") == 1);
	sb_free(&b);

	/* An unquoted word as long. */
	sb_add(&b, "user ");
	sb_repeat(&b, 'u', CONFIG_STRING_MAX + 1);
	sb_add(&b, "\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf == NULL);
	CHECK(logged("t:1: string too long") == 1);
	sb_free(&b);

	/* Adjacent strings joined beyond the limit. */
	sb_add(&b, "hostname \"gw\"\nldap \"l\" {\n\tserver \"ldap://x\"\n"
	    "\tbase \"");
	sb_repeat(&b, 'a', CONFIG_STRING_MAX / 2 + 1);
	sb_add(&b, "\" \"");
	sb_repeat(&b, 'b', CONFIG_STRING_MAX / 2);
	sb_add(&b, "\"\n}\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf == NULL);
	CHECK(logged("t:4: string too long") == 1);
	sb_free(&b);
}

static void
test_eof_inside_quoted_string(void)
{
	static const char	 t1[] = "hostname \"gw.example.com";
	static const char	 t2[] = "hostname \"gw\"\nuser \"ab\\";
	struct smtpcertd_conf	*conf;

	conf = parse_text(t1, sizeof(t1) - 1);
	CHECK(conf == NULL);
	CHECK(logged("t:1: reached end of file inside a quoted string") == 1);
	/* the lexer said it: no "syntax error" on top */
	CHECK(!logged_sub("syntax error"));

	/* EOF right after a backslash in a quoted string */
	conf = parse_text(t2, sizeof(t2) - 1);
	CHECK(conf == NULL);
	CHECK(logged("t:2: reached end of file inside a quoted string") == 1);
}

static void
test_macro_name_too_long(void)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;

	sb_add(&b, "hostname \"gw\"\nuser $");
	sb_repeat(&b, 'm', CONFIG_STRING_MAX + 100);
	sb_add(&b, "\nchroot \"/x\"\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf == NULL);
	CHECK(logged("t:2: macro name too long") == 1);
	/* the rest of the line was skipped, the next line parsed */
	CHECK(!logged_sub("t:3:"));
	sb_free(&b);
}

/* ldap "l" { server ... } with n servers */
static struct smtpcertd_conf *
ldap_servers(int n)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;
	int			 i;

	sb_add(&b, "hostname \"gw\"\nldap \"l\" {\n\tbase \"dc=x\"\n");
	for (i = 0; i < n; i++)
		sb_add(&b, "\tserver \"ldap://ldap%d.example.com\"\n", i);
	sb_add(&b, "}\n");
	conf = parse_text(b.s, b.len);
	sb_free(&b);
	return conf;
}

static void
test_too_many_ldap_servers(void)
{
	struct smtpcertd_conf	*conf;

	conf = ldap_servers(CONFIG_MAX_HOSTS);
	CHECK(conf != NULL);
	if (conf == NULL)
		show_log("CONFIG_MAX_HOSTS ldap servers refused");
	config_free(conf);

	conf = ldap_servers(CONFIG_MAX_HOSTS + 1);
	CHECK(conf == NULL);
	CHECK(logged("t:68: too many servers") == 1);
}

static struct sbuf
relay_hosts(int n)
{
	struct sbuf	 b = { NULL, 0, 0 };
	int		 i;

	sb_add(&b, "hostname \"gw\"\nrelay \"r\" {\n");
	for (i = 0; i < n; i++)
		sb_add(&b, "\thost \"192.0.2.%d\" port %d\n", i % 250 + 1,
		    1000 + i);
	sb_add(&b, "}\n");
	return b;
}

/*
 * A relay lists at most CONFIG_MAX_HOSTS hosts in the file.  The parent
 * replaces each name by its addresses (up to 16 each, smtpcertd/resolve.c)
 * before printing, so a child's text may hold more and must be accepted.
 */
static void
test_too_many_relay_hosts(void)
{
	struct sbuf		 b;
	struct smtpcertd_conf	*conf;
	char			 path[] = "/tmp/t_config.XXXXXX";
	int			 fd;

	if ((fd = mkstemp(path)) == -1) {
		CHECK(!"mkstemp");
		return;
	}
	close(fd);

	b = relay_hosts(CONFIG_MAX_HOSTS);
	CHECK(write_file(path, b.s, b.len) == 0);
	conf = parse_file(path);
	CHECK(conf != NULL);
	if (conf == NULL)
		show_log("CONFIG_MAX_HOSTS relay hosts refused");
	config_free(conf);
	sb_free(&b);

	b = relay_hosts(CONFIG_MAX_HOSTS + 1);
	CHECK(write_file(path, b.s, b.len) == 0);
	conf = parse_file(path);
	CHECK(conf == NULL);
	CHECK(logged_sub(":67: too many hosts"));
	sb_free(&b);

	/* the resolved printout of a relay with many addresses */
	b = relay_hosts(CONFIG_MAX_HOSTS * 16);
	conf = parse_text(b.s, b.len);
	CHECK(conf != NULL);
	if (conf == NULL)
		show_log("a long resolved relay list refused");
	config_free(conf);
	sb_free(&b);

	unlink(path);
}

static struct smtpcertd_conf *
proxy_allowed(int n)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;
	int			 i;

	sb_add(&b, "hostname \"gw\"\ngroup-policy \"g\" { }\n"
	    "proxy \"px\" {\n\tdefault server \"mail.example.com\"\n"
	    "\tdefault group-policy \"g\"\n");
	for (i = 0; i < n; i++)
		sb_add(&b, "\tallow server \"mail%d.example.com\" port %d "
		    "tls implicit\n", i, 1000 + i);
	sb_add(&b, "}\n");
	conf = parse_text(b.s, b.len);
	sb_free(&b);
	return conf;
}

static void
test_too_many_allowed_servers(void)
{
	struct smtpcertd_conf	*conf;
	char			*text;
	size_t			 len;

	conf = proxy_allowed(CONFIG_MAX_HOSTS);
	CHECK(conf != NULL);
	if (conf != NULL) {
		CHECK((text = config_text(conf, &len)) != NULL);
		if (text != NULL)
			CHECK(round_trip("allowed servers", text, len) == 0);
		free(text);
	} else
		show_log("CONFIG_MAX_HOSTS allowed servers refused");
	config_free(conf);

	conf = proxy_allowed(CONFIG_MAX_HOSTS + 1);
	CHECK(conf == NULL);
	CHECK(logged("t:70: too many allowed servers") == 1);
}

static struct smtpcertd_conf *
listeners(int n, int *errline)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;
	int			 i;

	base_config(&b);
	for (i = 0; i < n; i++) {
		if (i == CONFIG_MAX_LISTENERS)
			*errline = sb_lines(&b) + 1;
		sb_add(&b, "listen on 127.0.0.1 port %d pki \"gw\" "
		    "policy \"p\" relay \"r\"\n", 10000 + i);
	}
	conf = parse_text(b.s, b.len);
	sb_free(&b);
	return conf;
}

static void
test_too_many_listeners(void)
{
	struct smtpcertd_conf	*conf;
	char			*text, want[64];
	size_t			 len;
	int			 line = 0;

	conf = listeners(CONFIG_MAX_LISTENERS, &line);
	CHECK(conf != NULL);
	if (conf != NULL) {
		CHECK(conf->nlisteners == CONFIG_MAX_LISTENERS);
		CHECK((text = config_text(conf, &len)) != NULL);
		if (text != NULL)
			CHECK(round_trip("listeners", text, len) == 0);
		free(text);
	} else
		show_log("CONFIG_MAX_LISTENERS listeners refused");
	config_free(conf);

	conf = listeners(CONFIG_MAX_LISTENERS + 1, &line);
	CHECK(conf == NULL);
	snprintf(want, sizeof(want), "t:%d: too many listeners", line);
	CHECK(logged(want) == 1);
	if (logged(want) != 1)
		show_log(want);
}

static struct smtpcertd_conf *
reply_text(size_t textlen)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;

	base_config(&b);
	sb_add(&b, "auth-profile \"x\" ldap \"l\" query \"sq\" "
	    "disallowed reject 550 \"5.7.1 ");
	sb_repeat(&b, 'r', textlen - strlen("5.7.1 "));
	sb_add(&b, "\"\n");
	conf = parse_text(b.s, b.len);
	sb_free(&b);
	return conf;
}

static void
test_reply_text_too_long(void)
{
	struct smtpcertd_conf	*conf;
	struct auth_profile	*ap;
	char			*text;
	size_t			 len;

	conf = reply_text(400);
	CHECK(conf != NULL);
	if (conf != NULL) {
		CHECK((ap = config_find_auth_profile(conf, "x")) != NULL);
		if (ap != NULL) {
			CHECK(ap->reject_code == 550);
			CHECK(strlen(ap->reject_text) == 400);
		}
		CHECK((text = config_text(conf, &len)) != NULL);
		if (text != NULL)
			CHECK(round_trip("reply text", text, len) == 0);
		free(text);
	} else
		show_log("a 400-octet reply text refused");
	config_free(conf);

	conf = reply_text(401);
	CHECK(conf == NULL);
	CHECK(logged("t:16: reply text too long") == 1);
}

static void
test_listener_consistency(void)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;
	int			 line;

	/* an SMTP listener needs a policy */
	base_config(&b);
	line = sb_lines(&b) + 1;
	sb_add(&b, "listen on 127.0.0.1 port 2525 pki \"gw\" relay \"r\"\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf == NULL);
	CHECK(line == 16 && logged("t:16: listener: no policy") == 1);
	sb_free(&b);

	/* a certificate auth-profile needs a policy that verifies */
	base_config(&b);
	sb_add(&b, "listen on 127.0.0.1 port 2525 pki \"gw\" ca \"c\" "
	    "auth-profile \"cert\" policy \"p\" relay \"r\"\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf == NULL);
	CHECK(logged("t:16: listener: auth-profile \"cert\" uses "
	    "certificates but policy \"p\" does not verify "
	    "client-certificate") == 1);
	sb_free(&b);

	/* and with one it is fine */
	base_config(&b);
	sb_add(&b, "listen on 127.0.0.1 port 2525 pki \"gw\" ca \"c\" "
	    "auth-profile \"cert\" policy \"v\" relay \"r\"\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf != NULL);
	if (conf == NULL)
		show_log("certificate listener refused");
	config_free(conf);
	sb_free(&b);
}

/*
 * `username field OU` leaves the secondary field to its default, OU; the
 * printout "username field OU secondary OU" was refused ("primary and
 * secondary DN fields are the same"), so a child died on it.
 */
static void
test_username_field_ou_round_trip(void)
{
	static const char	 text[] = "hostname \"gw\"\n"
	    "group-policy \"g\" { }\n"
	    "proxy \"p\" {\n"
	    "\tusername field OU\n"
	    "\tdefault server \"mail.example.com\"\n"
	    "\tdefault group-policy \"g\"\n"
	    "}\n";
	struct smtpcertd_conf	*conf;
	struct proxy_profile	*px;
	char			*out;
	size_t			 len;

	conf = parse_text(text, sizeof(text) - 1);
	CHECK(conf != NULL);
	if (conf == NULL)
		return;
	CHECK((px = config_find_proxy(conf, "p")) != NULL);
	if (px != NULL) {
		CHECK(px->dn_primary == DN_FIELD_OU);
		CHECK(px->dn_secondary == DN_FIELD_NONE);
	}
	CHECK((out = config_text(conf, &len)) != NULL);
	if (out != NULL) {
		CHECK(strstr(out, "username field OU secondary none\n") != NULL);
		CHECK(round_trip("username field OU", out, len) == 0);
	}
	free(out);
	config_free(conf);
}

/* The printout is numeric: a child never resolves a name. */
static void
test_text_does_not_resolve(void)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;

	base_config(&b);
	sb_add(&b, "listen on localhost port 2525 pki \"gw\" policy \"p\" "
	    "relay \"r\"\n");
	conf = parse_text(b.s, b.len);
	CHECK(conf == NULL);
	CHECK(logged_sub("t:16: cannot resolve \"localhost\": "));
	sb_free(&b);
}

/*
 * Warnings are for the file: the parent prints them, the children
 * parsing its printout stay quiet.
 */
static void
test_warnings_only_for_files(void)
{
	struct sbuf		 b = { NULL, 0, 0 };
	struct smtpcertd_conf	*conf;
	char			 path[] = "/tmp/t_config.XXXXXX", want[256];
	int			 fd;

	if ((fd = mkstemp(path)) == -1) {
		CHECK(!"mkstemp");
		return;
	}
	close(fd);

	sb_add(&b, "hostname \"gw\"\n"
	    "pki \"gw\" cert \"/c\" key \"/k\"\n"
	    "ca \"c\" file \"/ca.pem\"\n"
	    "policy \"v\" { verify client-certificate }\n"
	    "relay \"r\" host \"192.0.2.25\"\n"
	    "listen on 127.0.0.1 port 2525 pki \"gw\" ca \"c\" policy \"v\" "
	    "relay \"r\"\n"
	    "listen on 127.0.0.1 port 2526 pki \"gw\" ca \"c\" policy \"v\" "
	    "relay \"r\"\n");
	CHECK(write_file(path, b.s, b.len) == 0);
	conf = parse_file(path);
	CHECK(conf != NULL);
	config_free(conf);
	/* once per ca, at its first listener */
	snprintf(want, sizeof(want), "%s:6: warning: ca \"c\" has no "
	    "enabled crl source; with fail-closed its certificates will be "
	    "refused", path);
	CHECK(logged(want) == 1);
	CHECK(!logged_sub(":7: warning"));
	conf = parse_text(b.s, b.len);
	CHECK(conf != NULL);
	config_free(conf);
	CHECK(capbuf[0] == '\0');
	sb_free(&b);

	sb_add(&b, "hostname \"gw\"\n");
	CHECK(write_file(path, b.s, b.len) == 0);
	conf = parse_file(path);
	CHECK(conf != NULL);
	config_free(conf);
	snprintf(want, sizeof(want), "%s: warning: no listeners", path);
	CHECK(logged(want) == 1);
	conf = parse_text(b.s, b.len);
	CHECK(conf != NULL);
	config_free(conf);
	CHECK(capbuf[0] == '\0');
	sb_free(&b);

	unlink(path);
}

int
main(void)
{
	log_init(1, 0);
	/* As smtpcertd does: TLS 1.3 suite names checked by libssl. */
	tlsopts_set_suites_check(tlsopts_ssl_check_suites);
	if (find_confdir() == -1 || chdir(confdir) == -1) {
		/* say so rather than pass without the cases */
		printf("not ok - find regress/config (set TOP)\n");
		return 1;
	}
	RUN(test_good_cases_round_trip);
	RUN(test_broken_cases_errors);
	RUN(test_text_refuses_include);
	RUN(test_text_respects_length);
	RUN(test_string_length_limit);
	RUN(test_eof_inside_quoted_string);
	RUN(test_macro_name_too_long);
	RUN(test_too_many_ldap_servers);
	RUN(test_too_many_relay_hosts);
	RUN(test_too_many_allowed_servers);
	RUN(test_too_many_listeners);
	RUN(test_reply_text_too_long);
	RUN(test_listener_consistency);
	RUN(test_username_field_ou_round_trip);
	RUN(test_text_does_not_resolve);
	RUN(test_warnings_only_for_files);
	TEST_EXIT();
}
