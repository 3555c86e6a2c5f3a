/*
 * The parent's state (struct parent, smtpcertd.h), in a file of its own
 * at the bottom of the folder: every module of the parent reads it, and
 * none should have to reach into smtpcertd.c (main, reload), which calls
 * them all, to find it.  smtpcertd.c fills it in at start.
 *
 * The look-ups of a child by kind or by front number are here too, for
 * the same reason: the modules that answer requests (accounting.c,
 * crl_parent.c, fronts.c, control.c) find the children through them,
 * and proc.c, which starts the children and hands their messages to
 * those modules, sits above them.
 */
#include <sys/types.h>

#include "proto.h"
#include "smtpcertd.h"

struct parent	*parent;

struct child *
proc_child(enum smtpcertd_proc p)
{
	return &parent->children[p];
}

struct child *
proc_front(int k)
{
	return &parent->children[front_slot(k)];
}
