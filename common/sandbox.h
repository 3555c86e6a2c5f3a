/*
 * Per-process sandboxes: no_new_privs, Landlock (when the kernel has it)
 * and a seccomp allowlist built with libseccomp.  Call the function of
 * your process once, after privdrop(), after everything that still reads
 * files or creates threads (see sandbox.c), right before the event loop,
 * while the process is still single-threaded.
 *
 * SMTPCERTD_SANDBOX_DEBUG set in the environment turns a forbidden system
 * call into "sandbox violation: syscall N (name)" on stderr and exit(1)
 * instead of a silent SIGSYS kill.
 */
#ifndef SMTPCERTD_SANDBOX_H
#define SMTPCERTD_SANDBOX_H

void	sandbox_front(void);
/* The keys process (smtpcertd/keys/keys.c): no files, no network. */
void	sandbox_keys(void);
void	sandbox_ldapd(void);
void	sandbox_crld(const char *cachedir);

#endif
