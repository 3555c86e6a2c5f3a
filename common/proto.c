/*
 * Name tables for process and message types, for log lines and traces.
 */
#include <stdint.h>
#include <stdio.h>

#include "proto.h"

#define IMSG_NAME_ENTRY(n)	[n] = #n,
static const char *imsg_names[] = {
	[IMSG_NONE] = "IMSG_NONE",
	IMSG_TYPES(IMSG_NAME_ENTRY)
};
#undef IMSG_NAME_ENTRY

static const char *proc_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_FRONT] = "front",
	[PROC_LDAPD] = "ldapd-helper",
	[PROC_CRLD] = "crld",
	[PROC_CONTROL] = "control",
	[PROC_KEYS] = "keys",
};

const char *
imsg_type_name(uint32_t type)
{
	static char	 unknown[32];

	if (type < sizeof(imsg_names) / sizeof(imsg_names[0]) &&
	    imsg_names[type] != NULL)
		return imsg_names[type];
	snprintf(unknown, sizeof(unknown), "IMSG_UNKNOWN(%u)", type);
	return unknown;
}

const char *
proc_name(enum smtpcertd_proc p)
{
	if ((unsigned)p < PROC_MAX)
		return proc_names[p];
	if ((unsigned)p < SLOT_MAX)
		return "front";		/* a further front's slot */
	return "unknown";
}

static const char *ldap_result_names[LDAP_RES_MAX] = {
	[LDAP_RES_OK] = "ok",
	[LDAP_RES_NOTFOUND] = "not found",
	[LDAP_RES_AMBIGUOUS] = "ambiguous",
	[LDAP_RES_MISMATCH] = "certificate mismatch",
	[LDAP_RES_BADCRED] = "bad credentials",
	[LDAP_RES_DISALLOWED] = "disallowed",
	[LDAP_RES_BADREQ] = "bad request",
	[LDAP_RES_BADFIELD] = "unusable certificate field",
	[LDAP_RES_LOCKED] = "account locked",
	[LDAP_RES_PWEXPIRED] = "password expired",
	[LDAP_RES_PWRESET] = "password must be changed",
	[LDAP_RES_DISABLED] = "account disabled",
	[LDAP_RES_TEMPFAIL] = "temporary failure",
};

const char *
ldap_result_name(uint32_t r)
{
	if (r < LDAP_RES_MAX)
		return ldap_result_names[r];
	return "unknown";
}
