/*
 * Account states from a directory's bind answer (common/pwpolicy.c):
 * Active Directory's diagnostic text and the ppolicy error values.
 */
#include <string.h>

#include "proto.h"
#include "pwpolicy.h"

#include "test.h"

static void
test_ad_codes(void)
{
	char	 w[64];

	CHECK(pwpolicy_from_ad("80090308: LdapErr: DSID-0C09030B, comment: "
	    "AcceptSecurityContext error, data 775, v893", w, sizeof(w)) ==
	    LDAP_RES_LOCKED);
	CHECK(strcmp(w, "AD data 775: account locked") == 0);
	CHECK(pwpolicy_from_ad("x, data 532, v1db1", w, sizeof(w)) ==
	    LDAP_RES_PWEXPIRED);
	CHECK(pwpolicy_from_ad("x, data 773, v1db1", NULL, 0) ==
	    LDAP_RES_PWRESET);
	CHECK(pwpolicy_from_ad("x, data 533, v1db1", NULL, 0) ==
	    LDAP_RES_DISABLED);
	CHECK(pwpolicy_from_ad("x, data 701", w, sizeof(w)) ==
	    LDAP_RES_DISABLED);
	CHECK(strcmp(w, "AD data 701: account expired") == 0);
}

static void
test_ad_anything_else_is_badcred(void)
{
	char	 w[64];

	/* Wrong password and unknown user are never told apart. */
	CHECK(pwpolicy_from_ad("x, data 52e, v893", w, sizeof(w)) ==
	    LDAP_RES_BADCRED);
	CHECK(w[0] == '\0');
	CHECK(pwpolicy_from_ad("x, data 525, v893", NULL, 0) ==
	    LDAP_RES_BADCRED);
	CHECK(pwpolicy_from_ad(NULL, NULL, 0) == LDAP_RES_BADCRED);
	CHECK(pwpolicy_from_ad("", NULL, 0) == LDAP_RES_BADCRED);
	CHECK(pwpolicy_from_ad("data 775", NULL, 0) == LDAP_RES_BADCRED);
	CHECK(pwpolicy_from_ad("x, data 775x, v1", NULL, 0) ==
	    LDAP_RES_BADCRED);
	CHECK(pwpolicy_from_ad("x, data , v1", NULL, 0) == LDAP_RES_BADCRED);
	CHECK(pwpolicy_from_ad("x, data 0000000775, v1", NULL, 0) ==
	    LDAP_RES_BADCRED);
}

static void
test_ppolicy_errors(void)
{
	CHECK(pwpolicy_from_ppolicy(PWP_PP_LOCKED) == LDAP_RES_LOCKED);
	CHECK(pwpolicy_from_ppolicy(PWP_PP_EXPIRED) == LDAP_RES_PWEXPIRED);
	CHECK(pwpolicy_from_ppolicy(PWP_PP_RESET) == LDAP_RES_PWRESET);
	CHECK(pwpolicy_from_ppolicy(PWP_PP_NONE) == LDAP_RES_OK);
	CHECK(pwpolicy_from_ppolicy(5) == LDAP_RES_OK);
}

static void
test_reasons_and_texts(void)
{
	CHECK(strcmp(pwpolicy_reason(LDAP_RES_LOCKED), "account-locked") == 0);
	CHECK(strcmp(pwpolicy_reason(LDAP_RES_PWEXPIRED),
	    "password-expired") == 0);
	CHECK(strcmp(pwpolicy_text(LDAP_RES_LOCKED), "Account locked") == 0);
	CHECK(pwpolicy_reason(LDAP_RES_BADCRED) == NULL);
	CHECK(pwpolicy_text(LDAP_RES_OK) == NULL);
	CHECK(strcmp(ldap_result_name(LDAP_RES_DISABLED),
	    "account disabled") == 0);
}

int
main(void)
{
	RUN(test_ad_codes);
	RUN(test_ad_anything_else_is_badcred);
	RUN(test_ppolicy_errors);
	RUN(test_reasons_and_texts);
	TEST_EXIT();
}
