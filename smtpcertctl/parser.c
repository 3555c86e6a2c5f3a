/*
 * A small token table, in the manner of bgpctl: each table lists the words
 * allowed at that position and either the next table or the action.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "parser.h"

/* Optional: the table that may follow holds one "argument" token. */
#define TOK_ARGUMENT	"<name>"
/* Optional: any number of trace subsystem names (log.h) follow. */
#define TOK_SUBSYSTEMS	"<subsystem ...>"
/* Required: a table holding only this takes any one word (session id). */
#define TOK_ID		"<id>"
/* Required: one word (a file, a user), then optionally "listener
 * ADDRESS:PORT". */
#define TOK_TEST	"<arg> [listener address:port]"

struct token {
	const char		*keyword;
	enum ctl_action		 action;
	const struct token	*next;
};

static const struct token t_main[];
static const struct token t_ldap[];
static const struct token t_show[];
static const struct token t_log[];
static const struct token t_log_subsys[];
static const struct token t_crl[];
static const struct token t_crl_name[];
static const struct token t_session[];
static const struct token t_session_id[];
static const struct token t_test[];
static const struct token t_test_cert[];
static const struct token t_test_login[];

static const struct token t_main[] = {
	{ "show",	CTL_NONE,		t_show },
	{ "reload",	CTL_RELOAD,		NULL },
	{ "log",	CTL_NONE,		t_log },
	{ "crl",	CTL_NONE,		t_crl },
	{ "ldap",	CTL_NONE,		t_ldap },
	{ "session",	CTL_NONE,		t_session },
	{ "test",	CTL_NONE,		t_test },
	{ NULL,		CTL_NONE,		NULL }
};

/* "test certificate FILE", "test login USER", each optionally with
 * "listener ADDRESS:PORT". */
static const struct token t_test[] = {
	{ "certificate", CTL_NONE,		t_test_cert },
	{ "login",	CTL_NONE,		t_test_login },
	{ NULL,		CTL_NONE,		NULL }
};

static const struct token t_test_cert[] = {
	{ TOK_TEST,	CTL_TEST_CERT,		NULL },
	{ NULL,		CTL_NONE,		NULL }
};

static const struct token t_test_login[] = {
	{ TOK_TEST,	CTL_TEST_LOGIN,		NULL },
	{ NULL,		CTL_NONE,		NULL }
};

static const struct token t_ldap[] = {
	{ "flush",	CTL_LDAP_FLUSH,		NULL },
	{ NULL,		CTL_NONE,		NULL }
};

static const struct token t_show[] = {
	{ "status",	CTL_SHOW_STATUS,	NULL },
	{ "crl",	CTL_SHOW_CRL,		NULL },
	{ "sessions",	CTL_SHOW_SESSIONS,	NULL },
	{ "stats",	CTL_SHOW_STATS,		NULL },
	{ NULL,		CTL_NONE,		NULL }
};

/* "session kill ID", the ID as `show sessions' and the logs print it. */
static const struct token t_session[] = {
	{ "kill",	CTL_NONE,		t_session_id },
	{ NULL,		CTL_NONE,		NULL }
};

static const struct token t_session_id[] = {
	{ TOK_ID,	CTL_SESSION_KILL,	NULL },
	{ NULL,		CTL_NONE,		NULL }
};

/* "crl update" alone means every source; a name picks one. */
static const struct token t_crl[] = {
	{ "update",	CTL_CRL_UPDATE,		t_crl_name },
	{ NULL,		CTL_NONE,		NULL }
};

static const struct token t_crl_name[] = {
	{ TOK_ARGUMENT,	CTL_CRL_UPDATE,		NULL },
	{ NULL,		CTL_NONE,		NULL }
};

/* "log verbose" alone traces everything, "log brief" nothing; names
 * add those subsystems to the trace, or take them out. */
static const struct token t_log[] = {
	{ "verbose",	CTL_LOG_VERBOSE,	t_log_subsys },
	{ "brief",	CTL_LOG_BRIEF,		t_log_subsys },
	{ NULL,		CTL_NONE,		NULL }
};

static const struct token t_log_subsys[] = {
	{ TOK_SUBSYSTEMS, CTL_NONE,		NULL },
	{ NULL,		CTL_NONE,		NULL }
};

/* Exact names only: a prefix of one would be a guess at the mask. */
static int
parse_subsystems(int argc, char *argv[], struct ctl_request *req)
{
	int	 i, sub;

	for (i = 0; i < argc; i++) {
		if ((sub = log_trace_lookup(argv[i])) == -1) {
			fprintf(stderr, "unknown subsystem: %s\n", argv[i]);
			fprintf(stderr, "valid subsystems:\n");
			for (sub = 0; sub < TRACE_MAX; sub++)
				fprintf(stderr, "  %s\n", log_trace_name(sub));
			return -1;
		}
		req->trace |= TRACE_BIT(sub);
	}
	return 0;
}

static void
show_valid(const struct token *t)
{
	fprintf(stderr, "valid commands/arguments:\n");
	for (; t->keyword != NULL; t++)
		fprintf(stderr, "  %s\n", t->keyword);
}

int
parse_args(int argc, char *argv[], struct ctl_request *req)
{
	const struct token	*table = t_main, *t, *match;
	int			 i;

	memset(req, 0, sizeof(*req));
	for (i = 0; ; i++) {
		if (i >= argc) {
			fprintf(stderr, "missing argument%s\n",
			    i ? "" : ": give a command");
			show_valid(table);
			return -1;
		}
		/* A required argument: the word is the value, never a
		 * keyword prefix. */
		if (strcmp(table->keyword, TOK_ID) == 0) {
			if (argv[i][0] == '\0') {
				fprintf(stderr, "empty argument\n");
				return -1;
			}
			if (i + 1 < argc) {
				fprintf(stderr, "superfluous argument: %s\n",
				    argv[i + 1]);
				return -1;
			}
			req->action = table->action;
			req->arg = argv[i];
			return 0;
		}
		if (strcmp(table->keyword, TOK_TEST) == 0) {
			if (argv[i][0] == '\0') {
				fprintf(stderr, "empty argument\n");
				return -1;
			}
			req->action = table->action;
			req->arg = argv[i];
			if (i + 1 == argc)
				return 0;
			if (strcmp(argv[i + 1], "listener") != 0 ||
			    i + 2 >= argc || argv[i + 2][0] == '\0') {
				fprintf(stderr, "after %s: expected "
				    "\"listener ADDRESS:PORT\"\n", argv[i]);
				return -1;
			}
			if (i + 3 < argc) {
				fprintf(stderr, "superfluous argument: %s\n",
				    argv[i + 3]);
				return -1;
			}
			req->listener = argv[i + 2];
			return 0;
		}
		match = NULL;
		for (t = table; t->keyword != NULL; t++) {
			/* Unique prefixes are accepted, as in bgpctl. */
			if (strncmp(t->keyword, argv[i], strlen(argv[i])) != 0)
				continue;
			if (match != NULL) {
				fprintf(stderr, "ambiguous argument: %s\n",
				    argv[i]);
				return -1;
			}
			match = t;
		}
		if (match == NULL || argv[i][0] == '\0') {
			fprintf(stderr, "unknown argument: %s\n", argv[i]);
			show_valid(table);
			return -1;
		}
		/* An action with an optional argument after it. */
		if (match->action != CTL_NONE && match->next != NULL) {
			req->action = match->action;
			if (i + 1 == argc)
				return 0;
			if (strcmp(match->next->keyword, TOK_SUBSYSTEMS) == 0)
				return parse_subsystems(argc - i - 1,
				    argv + i + 1, req);
			if (strcmp(match->next->keyword, TOK_ARGUMENT) != 0 ||
			    i + 2 < argc) {
				fprintf(stderr, "superfluous argument: %s\n",
				    argv[i + 2 < argc ? i + 2 : i + 1]);
				return -1;
			}
			req->arg = argv[i + 1];
			return 0;
		}
		if (match->next == NULL) {
			if (i + 1 < argc) {
				fprintf(stderr, "superfluous argument: %s\n",
				    argv[i + 1]);
				return -1;
			}
			req->action = match->action;
			return 0;
		}
		table = match->next;
	}
}
