/*
 * The process-wide state of ldapd-helper (struct ldapd in ldapd.h).
 *
 * A file of its own rather than ldapd-helper.c's: the lookups, the
 * generations and the connections read it, and defining it with main()
 * would make every one of them depend on the file that calls them.
 * ldapd-helper.c fills it in before the first message.
 */
#include "ldapd.h"

static struct ldapd	 ldapd_env;
struct ldapd		*env = &ldapd_env;
