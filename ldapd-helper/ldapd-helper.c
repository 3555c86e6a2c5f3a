/*
 * ldapd-helper: the process that talks LDAP for the front.  Unprivileged,
 * not chrooted (it resolves names and libldap reads its files), sandboxed
 * with Landlock and seccomp.  Started by the smtpcertd parent only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "childproc.h"
#include "log.h"
#include "proto.h"
#include "sandbox.h"

static void	usage(void) __attribute__((noreturn));

static void
ldapd_sandbox(struct childproc *cp)
{
	sandbox_ldapd();
}

static void
ldapd_peer(struct childproc *cp, int proc, struct imsg *imsg)
{
	if (imsg == NULL)
		return;
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(proc));
}

static const struct childproc_ops ldapd_ops = {
	.proc = PROC_LDAPD,
	.peers = 1U << PROC_FRONT,
	.sandbox = ldapd_sandbox,
	.peer_imsg = ldapd_peer,
};

static void
usage(void)
{
	fprintf(stderr, "usage: ldapd-helper [-dv] (started by smtpcertd)\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	int	 ch, foreground = 0, verbose = 0;

	while ((ch = getopt(argc, argv, "dv")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	return childproc_main(&ldapd_ops, foreground, verbose, NULL);
}
