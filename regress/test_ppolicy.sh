#!/bin/bash
# Directory-side lockout (issue 15 item 7): slapd with the ppolicy
# overlay refuses binds of locked, expired or reset accounts, and
# smtpcertd's ldapd-helper, which asks for the password policy control
# on every user bind, tells those apart from a wrong password: SMTP AUTH
# gets "535 5.7.8 Account locked" (etc.) and the auth log line a
# reason=, while a wrong password keeps the plain 535.  The lockout
# lives in the directory, so every gateway in front of it shares it.
#
# Run one test: bash regress/test_ppolicy.sh test_name...
. "$(dirname "$0")/lib.sh"
. "$REGRESS/lib/smtp.sh"
smtp_init || exit 1

POLICIES="ou=policies,$SLAPD_SUFFIX"
# ppolicy is a module in Debian 12's slapd 2.5, its schema built in.
# ppolicy_use_lockout: a locked account's bind says accountLocked in the
# control (without it, slapd answers a plain invalidCredentials).
export SLAPD_EXTRA_GLOBAL="moduleload ppolicy"
export SLAPD_EXTRA_DB="overlay ppolicy
ppolicy_default \"cn=default,$POLICIES\"
ppolicy_use_lockout"

# pp_env: smtp_env with the policies: default (3 failures lock, until
# an administrator unlocks; a reset password must be changed) and
# "short" (passwords expire after a second; GRACE grace logins).
pp_env() {
	local grace=${1:-0}
	smtp_env
	ldap_admin_modify "$T/ldap" >"$T/policies.out" 2>&1 <<-LDIF || { cat "$T/policies.out"; fail "policies not added"; return 1; }
	dn: $POLICIES
	changetype: add
	objectClass: organizationalUnit
	ou: policies

	dn: cn=default,$POLICIES
	changetype: add
	objectClass: device
	objectClass: pwdPolicy
	cn: default
	pwdAttribute: userPassword
	pwdMaxFailure: 3
	pwdLockout: TRUE
	pwdLockoutDuration: 0
	pwdMustChange: TRUE

	dn: cn=short,$POLICIES
	changetype: add
	objectClass: device
	objectClass: pwdPolicy
	cn: short
	pwdAttribute: userPassword
	pwdMaxAge: 1
	pwdGraceAuthNLimit: $grace
	LDIF
}

# AUTH PLAIN over STARTTLS with swaks; OUT gets the dialogue.
pp_auth() {
	smtp_swaks "$1" --tls --auth PLAIN --auth-user "$2" \
	    --auth-password "$3" --quit-after AUTH
}

pp_expect() {
	grep -Eq "^<~\*? +$2" "$1" || { fail "$1: want $2"; return 1; }
}

test_three_failures_lock_the_account() {
	# The gateway's own failed-login limit must not hide the directory's.
	pp_env && SMTP_GLOBAL="limit max-auth-failures 100" smtp_start ||
	    return 1
	local i
	for i in 1 2 3; do
		pp_auth "$T/wrong$i" bob wrong || return 1
		# A wrong password says no more than before.
		pp_expect "$T/wrong$i" '535 5\.7\.8 Authentication credentials invalid' || return 1
	done
	pp_auth "$T/right" bob bobpw
	pp_expect "$T/right" '535 5\.7\.8 Account locked' || return 1
	grep -E 'event=auth .*user=bob .*result="account locked" reason=account-locked' \
	    "$T/smtpcertd.log" || { fail "no locked auth line"; return 1; }
	# The directory holds the lock (shared by every gateway).
	ldapsearch -x -LLL -H "$(slapd_url "$T/ldap")" -D "$SLAPD_ROOTDN" \
	    -w "$SLAPD_ROOTPW" -b "uid=bob,$SLAPD_PEOPLE" -s base \
	    pwdAccountLockedTime | grep -q '^pwdAccountLockedTime:' ||
	    { fail "slapd did not lock bob"; return 1; }
	# An unknown user and a wrong password stay indistinguishable.
	pp_auth "$T/nobody" nosuchuser wrong
	pp_expect "$T/nobody" '535 5\.7\.8 Authentication credentials invalid' || return 1
	# Unlocked by the administrator: in again, no restart.
	ldap_admin_modify "$T/ldap" >/dev/null <<-LDIF || { fail "unlock"; return 1; }
	dn: uid=bob,$SLAPD_PEOPLE
	changetype: modify
	delete: pwdAccountLockedTime
	LDIF
	pp_auth "$T/again" bob bobpw
	pp_expect "$T/again" '235 2\.7\.0' || return 1
}

test_reset_password_must_be_changed() {
	pp_env && smtp_start || return 1
	# pwdReset with pwdMustChange: slapd lets the bind succeed for a
	# password change only; the gateway must refuse it.
	ldap_admin_modify "$T/ldap" >/dev/null <<-LDIF || { fail "pwdReset"; return 1; }
	dn: uid=carol,$SLAPD_PEOPLE
	changetype: modify
	replace: pwdReset
	pwdReset: TRUE
	LDIF
	pp_auth "$T/carol" carol carolpw
	pp_expect "$T/carol" '535 5\.7\.8 Password must be changed' || return 1
	grep -E 'event=auth .*user=carol .*reason=password-must-change' \
	    "$T/smtpcertd.log" || { fail "no must-change auth line"; return 1; }
}

test_expired_password() {
	pp_env 0 && smtp_start || return 1
	ldap_admin_modify "$T/ldap" >/dev/null <<-LDIF || { fail "policy"; return 1; }
	dn: uid=dave,$SLAPD_PEOPLE
	changetype: modify
	replace: pwdPolicySubentry
	pwdPolicySubentry: cn=short,$POLICIES

	dn: uid=dave,$SLAPD_PEOPLE
	changetype: modify
	replace: userPassword
	userPassword: davepw
	LDIF
	# The new password is older than the policy's pwdMaxAge (1 s).
	sleep 2
	pp_auth "$T/dave" dave davepw
	pp_expect "$T/dave" '535 5\.7\.8 Password expired' || return 1
	grep -E 'event=auth .*user=dave .*reason=password-expired' \
	    "$T/smtpcertd.log" || { fail "no expired auth line"; return 1; }
	# ... and the wrong password for that account is only wrong.
	pp_auth "$T/dave-wrong" dave wrong
	grep -E '^<~\*? +535 5\.7\.8' "$T/dave-wrong" || { fail "not refused"; return 1; }
}

test_grace_login_is_logged() {
	pp_env 2 && smtp_start || return 1
	ldap_admin_modify "$T/ldap" >/dev/null <<-LDIF || { fail "policy"; return 1; }
	dn: uid=dave,$SLAPD_PEOPLE
	changetype: modify
	replace: pwdPolicySubentry
	pwdPolicySubentry: cn=short,$POLICIES

	dn: uid=dave,$SLAPD_PEOPLE
	changetype: modify
	replace: userPassword
	userPassword: davepw
	LDIF
	sleep 2
	pp_auth "$T/g1" dave davepw
	pp_expect "$T/g1" '235 2\.7\.0' || return 1
	grep -E 'event=auth .*user=dave .*result=ok .*detail="password expired, grace login \(1 left\)"' \
	    "$T/smtpcertd.log" || { fail "no grace login line"; return 1; }
	# Not answered from the cache: the directory counts each one.
	pp_auth "$T/g2" dave davepw
	pp_expect "$T/g2" '235 2\.7\.0' || return 1
	grep -E 'event=auth .*user=dave .*detail="password expired, grace login \(0 left\)"' \
	    "$T/smtpcertd.log" || { fail "second grace login not seen"; return 1; }
	pp_auth "$T/g3" dave davepw
	pp_expect "$T/g3" '535 5\.7\.8 Password expired' || return 1
}

if [ $# -gt 0 ]; then
	for t in "$@"; do run_test "$t"; done
else
	run_test test_three_failures_lock_the_account
	run_test test_reset_password_must_be_changed
	run_test test_expired_password
	run_test test_grace_login_is_logged
fi
finish
