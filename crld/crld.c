/*
 * crld: downloads certificate revocation lists on a schedule and hands
 * them to the parent.  Unprivileged, not chrooted (it resolves names and
 * reads file:// sources), sandboxed with Landlock and seccomp; it may
 * write only its cache directory.  Started by the smtpcertd parent only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "childproc.h"
#include "config.h"
#include "log.h"
#include "proto.h"
#include "sandbox.h"

static void	usage(void) __attribute__((noreturn));

static void
crld_sandbox(struct childproc *cp)
{
	sandbox_crld(cp->conf->conf->crl_cachedir);
}

static void
crld_peer(struct childproc *cp, int proc, struct imsg *imsg)
{
	if (imsg == NULL)
		return;
	fatalx("unexpected %s from %s", imsg_type_name(imsg->hdr.type),
	    proc_name(proc));
}

static const struct childproc_ops crld_ops = {
	.proc = PROC_CRLD,
	.peers = 1U << PROC_FRONT,
	.sandbox = crld_sandbox,
	.peer_imsg = crld_peer,
};

static void
usage(void)
{
	fprintf(stderr, "usage: crld [-dv] (started by smtpcertd)\n");
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
	return childproc_main(&crld_ops, foreground, verbose, NULL);
}
