/*
 * A small token table, in the manner of bgpctl: each table lists the words
 * allowed at that position and either the next table or the action.
 */
#include <stdio.h>
#include <string.h>

#include "parser.h"

/* Optional: the table that may follow holds one "argument" token. */
#define TOK_ARGUMENT	"<name>"

struct token {
	const char		*keyword;
	enum ctl_action		 action;
	const struct token	*next;
};

static const struct token t_main[];
static const struct token t_ldap[];
static const struct token t_show[];
static const struct token t_log[];
static const struct token t_crl[];
static const struct token t_crl_name[];

static const struct token t_main[] = {
	{ "show",	CTL_NONE,		t_show },
	{ "reload",	CTL_RELOAD,		NULL },
	{ "log",	CTL_NONE,		t_log },
	{ "crl",	CTL_NONE,		t_crl },
	{ "ldap",	CTL_NONE,		t_ldap },
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

static const struct token t_log[] = {
	{ "verbose",	CTL_LOG_VERBOSE,	NULL },
	{ "brief",	CTL_LOG_BRIEF,		NULL },
	{ NULL,		CTL_NONE,		NULL }
};

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
