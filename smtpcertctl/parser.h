/*
 * smtpcertctl's command line, parsed against a token table.
 */
#ifndef SMTPCERTCTL_PARSER_H
#define SMTPCERTCTL_PARSER_H

#include <stdint.h>

enum ctl_action {
	CTL_NONE,
	CTL_SHOW_STATUS,
	CTL_RELOAD,
	CTL_LOG_VERBOSE,
	CTL_LOG_BRIEF,
	CTL_SHOW_CRL,
	CTL_CRL_UPDATE,
	CTL_SHOW_SESSIONS,
	CTL_LDAP_FLUSH,
	CTL_SHOW_STATS,
	CTL_SESSION_KILL,
	CTL_TEST_CERT,
	CTL_TEST_LOGIN,
};

struct ctl_request {
	enum ctl_action	 action;
	const char	*arg;		/* argument (a name, a session id), or
					 * NULL */
	uint32_t	 trace;		/* log: subsystems (log.h), 0 all */
	const char	*listener;	/* test: "ADDRESS:PORT", or NULL */
};

/* Returns 0 and fills req, or -1 after printing what was expected. */
int	parse_args(int argc, char *argv[], struct ctl_request *req);

#endif
