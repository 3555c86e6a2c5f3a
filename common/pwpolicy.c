/*
 * Account states from a directory's answer to a user bind, see
 * pwpolicy.h.  ldapd-helper decides with these; the front only maps the
 * resulting code to its reply and log reason.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "pwpolicy.h"

uint32_t
pwpolicy_from_ppolicy(int pperror)
{
	switch (pperror) {
	case PWP_PP_EXPIRED:
		return LDAP_RES_PWEXPIRED;
	case PWP_PP_LOCKED:
		return LDAP_RES_LOCKED;
	case PWP_PP_RESET:
		return LDAP_RES_PWRESET;
	default:
		return LDAP_RES_OK;
	}
}

/*
 * AD writes the Win32 error of the logon as ", data HEX," (or at the
 * end).  Only that token counts: a "data" elsewhere in the text is not
 * a code, and anything unexpected is a plain wrong password, so a
 * directory that is not AD can never make us say more than BADCRED.
 */
uint32_t
pwpolicy_from_ad(const char *diag, char *what, size_t len)
{
	static const struct {
		unsigned long	 code;
		uint32_t	 result;
		const char	*what;
	} codes[] = {
		{ 0x775, LDAP_RES_LOCKED, "account locked" },
		{ 0x532, LDAP_RES_PWEXPIRED, "password expired" },
		{ 0x773, LDAP_RES_PWRESET, "password must be reset" },
		{ 0x533, LDAP_RES_DISABLED, "account disabled" },
		{ 0x701, LDAP_RES_DISABLED, "account expired" },
	};
	const char	*p, *q;
	unsigned long	 code = 0;
	size_t		 i, n;

	if (what != NULL && len > 0)
		what[0] = '\0';
	if (diag == NULL || (p = strstr(diag, ", data ")) == NULL)
		return LDAP_RES_BADCRED;
	p += strlen(", data ");
	for (q = p, n = 0; isxdigit((unsigned char)*q) && n < 8; q++, n++)
		code = code * 16 + (unsigned long)(isdigit((unsigned char)*q) ?
		    *q - '0' : (tolower((unsigned char)*q) - 'a' + 10));
	if (n == 0 || (*q != ',' && *q != '\0'))
		return LDAP_RES_BADCRED;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code) {
			if (what != NULL)
				snprintf(what, len, "AD data %lx: %s", code,
				    codes[i].what);
			return codes[i].result;
		}
	return LDAP_RES_BADCRED;
}

const char *
pwpolicy_reason(uint32_t result)
{
	switch (result) {
	case LDAP_RES_LOCKED:
		return "account-locked";
	case LDAP_RES_PWEXPIRED:
		return "password-expired";
	case LDAP_RES_PWRESET:
		return "password-must-change";
	case LDAP_RES_DISABLED:
		return "account-disabled";
	default:
		return NULL;
	}
}

const char *
pwpolicy_text(uint32_t result)
{
	switch (result) {
	case LDAP_RES_LOCKED:
		return "Account locked";
	case LDAP_RES_PWEXPIRED:
		return "Password expired";
	case LDAP_RES_PWRESET:
		return "Password must be changed";
	case LDAP_RES_DISABLED:
		return "Account disabled";
	default:
		return NULL;
	}
}
