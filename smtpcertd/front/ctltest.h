/*
 * `smtpcertctl test certificate' and `test login' in the front
 * (ctltest.c; the messages in proto.h).
 */
#ifndef SMTPCERTD_CTLTEST_H
#define SMTPCERTD_CTLTEST_H

struct childproc;
struct imsg;

/* IMSG_CTL_TEST_CERT, IMSG_CTL_TEST_LOGIN from the parent: the answer
 * (steps, decision, end) goes back with the request's reqid. */
void	ctltest_cert(struct childproc *, struct imsg *);
void	ctltest_login(struct childproc *, struct imsg *);

#endif
