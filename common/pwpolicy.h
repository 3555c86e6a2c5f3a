/*
 * What a directory says about an account when it refuses (or grudgingly
 * accepts) a user's bind: the password policy response control of
 * draft-behera-ldap-password-policy (OpenLDAP's ppolicy overlay) and the
 * diagnostic text of Active Directory ("..., data 775, ...").  Pure
 * functions, so the unit tests can feed them what a directory would.
 */
#ifndef SMTPCERTD_PWPOLICY_H
#define SMTPCERTD_PWPOLICY_H

#include <stddef.h>
#include <stdint.h>

/* The ppolicy response's error values (LDAPPasswordPolicyError). */
#define PWP_PP_NONE		65535	/* noError, or no control */
#define PWP_PP_EXPIRED		0	/* passwordExpired */
#define PWP_PP_LOCKED		1	/* accountLocked */
#define PWP_PP_RESET		2	/* changeAfterReset */

/*
 * An account state from a ppolicy error: LDAP_RES_LOCKED, PWEXPIRED or
 * PWRESET, or LDAP_RES_OK for none of those (the other errors concern
 * password changes, never a bind).
 */
uint32_t	 pwpolicy_from_ppolicy(int pperror);

/*
 * An account state from Active Directory's diagnostic message of an
 * invalidCredentials bind ("80090308: LdapErr: DSID-0C09030B, comment:
 * AcceptSecurityContext error, data 775, v893"): LDAP_RES_LOCKED (775),
 * PWEXPIRED (532), PWRESET (773), DISABLED (533 disabled, 701 account
 * expired), or LDAP_RES_BADCRED for any other text (52e: wrong
 * password; 525: no such user -- never told apart).  what, if not NULL,
 * gets a short description for the log ("AD data 701: account
 * expired").
 */
uint32_t	 pwpolicy_from_ad(const char *diag, char *what, size_t len);

/* The log's reason= for an account state ("account-locked", ...), or
 * NULL for any other result. */
const char	*pwpolicy_reason(uint32_t result);

/* The reply text the front gives for an account state ("Account
 * locked"), or NULL for any other result. */
const char	*pwpolicy_text(uint32_t result);

#endif
