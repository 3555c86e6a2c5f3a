# smtpcertd — top-level build.  One folder per process (README "Layout"):
# one binary per program, where smtpcertd's binary holds three processes
# (the parent in smtpcertd/, the front in smtpcertd/front/, the keys
# process in smtpcertd/keys/).  Code that two or more processes use is in
# common/, built once into a static archive every program links.
#
#   make                 build everything into build/
#   make check           build and run the whole test suite
#   make check SANITIZE=1  same, with ASan + UBSan, into build-san/
#   make fuzz            libFuzzer targets (clang) into build/fuzz/
#   make install PREFIX=/usr DESTDIR=/tmp/root   (layout: README.md)
#   make uninstall       the same variables as install

CC	?= cc
YACC	?= byacc
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/smtpcertd
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc/smtpcertd
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
RCDIR	?= /etc/init.d
# Created by `make install' (the defaults of `chroot' and `crl cache' in
# smtpcertd.conf), and the user the children drop to (`user').
STATEDIR ?= /var/lib/smtpcertd
CACHEDIR ?= /var/cache/smtpcertd
SMTPCERTD_USER ?= _smtpcertd
DESTDIR	?=

ifeq ($(SANITIZE),1)
O	:= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT	:= -O1 -g
else
O	:= build
SANFLAGS :=
OPT	:= -O2 -g
endif

PKGS	:= libtls libevent libseccomp ldap lber libcurl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS	+= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	   -Wmissing-prototypes -Wpointer-arith -Wno-unused-parameter \
	   $(OPT) $(SANFLAGS) -Icommon $(PROC_INCS) $(PKG_CFLAGS) \
	   -DLIBEXECDIR=\"$(LIBEXECDIR)\" -DSYSCONFDIR=\"$(SYSCONFDIR)\"
LDFLAGS	+= $(SANFLAGS)
LDLIBS	+= $(PKG_LIBS)
# libssl directly (it is under libtls anyway) only where the front's
# server-side TLS is: smtpcertd (smtpcertd/front/io.c, common/tlsserver.c), the
# unit tests, test tools and benchmarks.  See README "Dependencies".
SSL_LIBS := $(shell pkg-config --libs libssl 2>/dev/null)
smtpcertd_LIBS := $(SSL_LIBS)

# The config grammar lives in common/ because every process parses the
# normalised config text the parent sends it (see common/config.h).
COMMON_SRCS := $(sort $(wildcard common/*.c))
COMMON_OBJS := $(COMMON_SRCS:%.c=$(O)/obj/%.o) $(O)/obj/common/parse.o
LIBCOMMON := $(O)/libcommon.a

PROGS	:= smtpcertd ldapd-helper crld smtpcertctl
BINS	:= $(PROGS:%=$(O)/%)
# A program's folders: its processes'.
smtpcertd_DIRS := smtpcertd smtpcertd/front smtpcertd/keys
ldapd-helper_DIRS := ldapd-helper
crld_DIRS := crld
smtpcertctl_DIRS := smtpcertctl
# The front's headers are found from the parent's files (front_main) and
# from the unit tests, fuzz targets and benchmarks of the front's code.
PROC_INCS := -Ismtpcertd -Ismtpcertd/front

# The front's and the parent's code as archives for the unit tests, test
# tools and benchmarks that drive pieces of them (io.c, proxyproto.c,
# tlsopts_ssl.c, ...): a link takes only the objects it calls.  The
# parent's main() stays out.
FRONT_SRCS := $(sort $(wildcard smtpcertd/front/*.c))
LIBFRONT := $(O)/libfront.a
PARENT_SRCS := $(filter-out smtpcertd/smtpcertd.c,$(sort $(wildcard smtpcertd/*.c)))
LIBPARENT := $(O)/libparent.a

# The parent finds its helpers at the compiled-in LIBEXECDIR: `make
# install PREFIX=/usr' after a plain `make' must rebuild what uses the
# paths, or it would install a smtpcertd looking in /usr/local.
PATHS	:= LIBEXECDIR=$(LIBEXECDIR) SYSCONFDIR=$(SYSCONFDIR)
PATHS_STAMP := $(O)/paths.stamp
ifneq ($(shell cat $(PATHS_STAMP) 2>/dev/null),$(PATHS))
$(shell mkdir -p $(O) && echo '$(PATHS)' >$(PATHS_STAMP))
endif

UNIT_SRCS := $(sort $(wildcard regress/unit/t_*.c))
UNIT_BINS := $(UNIT_SRCS:regress/unit/%.c=$(O)/regress/%)
# Test drivers run by the integration tests (not by themselves).
TOOL_SRCS := $(sort $(wildcard regress/tools/*.c))
TOOL_BINS := $(TOOL_SRCS:regress/tools/%.c=$(O)/regress-tools/%)

BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(O)/bench/%)

all: $(BINS)

# After `all': the first rule in the file is what a plain `make' builds.
$(O)/obj/smtpcertd/smtpcertd.o: $(PATHS_STAMP)

$(O)/gen/parse.c: common/parse.y
	@mkdir -p $(dir $@)
	$(YACC) -o $@ $<

$(O)/obj/common/parse.o: $(O)/gen/parse.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-but-set-variable -Wno-missing-prototypes -c -o $@ $<

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBFRONT): $(FRONT_SRCS:%.c=$(O)/obj/%.o)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBPARENT): $(PARENT_SRCS:%.c=$(O)/obj/%.o)
	rm -f $@
	$(AR) rcs $@ $^

# What the unit tests, tools and benchmarks link (the processes' objects
# call common/'s and the reverse never happens, hence the order).
TEST_LIBS := $(LIBFRONT) $(LIBPARENT) $(LIBCOMMON)

define prog_rule
$(1)_SRCS := $$(sort $$(wildcard $$(addsuffix /*.c,$$($(1)_DIRS))))
$(1)_OBJS := $$($(1)_SRCS:%.c=$(O)/obj/%.o)
$(O)/$(1): $$($(1)_OBJS) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $$@ $$($(1)_OBJS) $(LIBCOMMON) $$($(1)_LIBS) $(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(O)/regress/%: regress/unit/%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_LIBS) $(LDFLAGS) $(SSL_LIBS) $(LDLIBS)

# bench/smtp_load drives OpenSSL directly (one shared SSL_CTX) as well.
$(O)/bench/%: bench/%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_LIBS) $(LDFLAGS) $(SSL_LIBS) $(LDLIBS)

$(O)/regress-tools/%: regress/tools/%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_LIBS) $(LDFLAGS) $(SSL_LIBS) $(LDLIBS)

units: $(UNIT_BINS) $(TOOL_BINS)

check: all units
	BUILD=$(O) SANITIZE=$(SANITIZE) bash regress/run.sh

bench: all $(BENCH_BINS)
	BUILD=$(O) bash bench/run.sh

# The benchmark's tools alone (regress/test_bench_tools.sh builds these).
bench-tools: $(BENCH_BINS)

# Fuzzing (`make fuzz', README "Fuzzing"): one libFuzzer binary per
# fuzz/fuzz_*.c into $(O)/fuzz/.  The parsers are compiled again with
# clang and the fuzzer's coverage instrumentation: gcc objects carry no
# coverage and libFuzzer would fuzz blind.  Program folders become
# archives (their main() renamed) so a target pulls in only the objects
# it calls.
FUZZ_CC	?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wmissing-prototypes -Wpointer-arith -Wno-unused-parameter \
	-g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Icommon \
	$(PROC_INCS) -Icrld -Ildapd-helper $(PKG_CFLAGS) \
	-DLIBEXECDIR=\"$(LIBEXECDIR)\" -DSYSCONFDIR=\"$(SYSCONFDIR)\"
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(O)/fuzz/%)
FUZZ_PROGS := smtpcertd crld ldapd-helper
FO	:= $(O)/fuzz/obj

$(FO)/common/parse.o: $(O)/gen/parse.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-unused-but-set-variable \
		-Wno-missing-prototypes -c -o $@ $<

$(FO)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_MAINFLAGS) -MMD -MP -c -o $@ $<

# The programs' main() files: main() renamed, the target brings its own.
$(FO)/smtpcertd/smtpcertd.o $(FO)/crld/crld.o $(FO)/ldapd-helper/ldapd-helper.o: \
	FUZZ_MAINFLAGS := -Dmain=fuzz_unused_main -Wno-missing-prototypes

$(O)/fuzz/libcommon.a: $(COMMON_SRCS:%.c=$(FO)/%.o) $(FO)/common/parse.o
	rm -f $@
	$(AR) rcs $@ $^

define fuzz_prog_rule
$(O)/fuzz/lib$(1).a: $$(patsubst %.c,$(FO)/%.o,$$($(1)_SRCS))
	rm -f $$@
	$(AR) rcs $$@ $$^
endef
$(foreach p,$(FUZZ_PROGS),$(eval $(call fuzz_prog_rule,$(p))))
FUZZ_LIBS := $(FUZZ_PROGS:%=$(O)/fuzz/lib%.a) $(O)/fuzz/libcommon.a

$(O)/fuzz/fuzz_%: $(FO)/fuzz/fuzz_%.o $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
		-Wl,--start-group $(FUZZ_LIBS) -Wl,--end-group \
		$(SSL_LIBS) $(LDLIBS)

fuzz: $(FUZZ_BINS)

# Installed paths in the man pages, the unit and the rc script.
INSTALL_SED := sed -e 's|/usr/local/libexec/smtpcertd|$(LIBEXECDIR)|g' \
	-e 's|/usr/local/sbin|$(SBINDIR)|g' -e 's|/etc/smtpcertd|$(SYSCONFDIR)|g'
MANPAGES := smtpcertd/smtpcertd.8 smtpcertd/smtpcertd.conf.5 smtpcertctl/smtpcertctl.8

# The layout is documented in README.md ("Installing") and checked by
# regress/test_install.sh.  As root without DESTDIR it also creates the
# user and hands it the CRL cache; a package does that in its postinst.
install: all
	install -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(RCDIR) \
		$(DESTDIR)$(STATEDIR) $(DESTDIR)$(STATEDIR)/empty
	install -d -m 0700 $(DESTDIR)$(CACHEDIR)
	install -m 0755 $(O)/smtpcertd $(O)/smtpcertctl $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(O)/ldapd-helper $(O)/crld $(DESTDIR)$(LIBEXECDIR)/
	for m in $(MANPAGES); do \
		$(INSTALL_SED) $$m >$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} && \
		chmod 0644 $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} || exit 1; \
	done
	install -m 0644 etc/smtpcertd.conf $(DESTDIR)$(SYSCONFDIR)/smtpcertd.conf.example
	$(INSTALL_SED) etc/smtpcertd.service >$(DESTDIR)$(SYSTEMDDIR)/smtpcertd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/smtpcertd.service
	$(INSTALL_SED) etc/smtpcertd.rc >$(DESTDIR)$(RCDIR)/smtpcertd
	chmod 0755 $(DESTDIR)$(RCDIR)/smtpcertd
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
		if ! getent passwd $(SMTPCERTD_USER) >/dev/null; then \
			echo "creating system user $(SMTPCERTD_USER)"; \
			useradd --system --user-group --no-create-home \
			    --home-dir /nonexistent --shell /usr/sbin/nologin \
			    $(SMTPCERTD_USER) || exit 1; \
		fi; \
		chown $(SMTPCERTD_USER):$$(id -gn $(SMTPCERTD_USER)) $(CACHEDIR) || exit 1; \
	else \
		echo "not root or DESTDIR set: create the user and hand it the CRL cache with"; \
		echo "  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $(SMTPCERTD_USER)"; \
		echo "  chown $(SMTPCERTD_USER):$(SMTPCERTD_USER) $(CACHEDIR)"; \
	fi

# Removes what install put there but the directories that may hold a
# site's files (configuration, CRL cache, chroot) and the user.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/smtpcertd $(DESTDIR)$(SBINDIR)/smtpcertctl \
		$(DESTDIR)$(LIBEXECDIR)/ldapd-helper $(DESTDIR)$(LIBEXECDIR)/crld \
		$(DESTDIR)$(MANDIR)/man8/smtpcertd.8 \
		$(DESTDIR)$(MANDIR)/man8/smtpcertctl.8 \
		$(DESTDIR)$(MANDIR)/man5/smtpcertd.conf.5 \
		$(DESTDIR)$(SYSCONFDIR)/smtpcertd.conf.example \
		$(DESTDIR)$(SYSTEMDDIR)/smtpcertd.service \
		$(DESTDIR)$(RCDIR)/smtpcertd
	rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null || true

clean:
	rm -rf build build-san

.PHONY: all check units bench bench-tools fuzz install uninstall clean

-include $(shell find $(O) -name '*.d' 2>/dev/null)
