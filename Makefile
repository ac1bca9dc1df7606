# CMSI gateway: one Makefile, no recursion beyond deps, GNU make.
.SUFFIXES:

PKG_CONFIG	?= pkg-config
PKGS		 = fcgi libcurl json-c libxml-2.0 gnutls libpcre2-8 hiredis
BUILDDIR	?= build
PREFIX		?= /usr/local
LIBEXECDIR	?= $(PREFIX)/libexec
DATADIR		?= $(PREFIX)/share/cmsi
MANDIR		?= $(PREFIX)/share/man
# PREFIX relocates everything; the default one keeps the config in
# /etc/cmsi and the state in /var/lib/cmsi.  SYSCONFDIR and STATEDIR
# still say otherwise when given.
ifeq ($(PREFIX),/usr/local)
SYSCONFDIR	?= /etc
STATEDIR	?= /var/lib/cmsi
else
SYSCONFDIR	?= $(PREFIX)/etc
STATEDIR	?= $(PREFIX)/var/lib/cmsi
endif
PORT		?= 8080
CMSI_CONF	?= conf/cmsi.json

# Debian 12 packages for building, testing and `make run`; the e2e suite
# runs through every front end (lighttpd, Apache with mod_fcgid and
# mod_proxy_fcgi, nginx) and every way of starting the app (spawn-fcgi,
# multiwatch), so `make check` on a fresh machine installs them all.
DEBS = build-essential pkg-config libfcgi-dev libcurl4-gnutls-dev \
	libjson-c-dev libxml2-dev libgnutls28-dev libpcre2-dev libcmocka-dev \
	libhiredis-dev redis-server \
	clang libclang-rt-14-dev libtsan2 wrk libnginx-mod-http-echo \
	lighttpd curl python3 python3-aiosmtpd openssl ca-certificates \
	apache2 libapache2-mod-fcgid nginx spawn-fcgi multiwatch prometheus \
	chromium chromium-driver python3-selenium mandoc

CFLAGS		?= -O2 -g
WARNFLAGS	 = -Wall -Wextra -Wformat=2 -Wstrict-prototypes \
		   -Wmissing-prototypes -Wshadow -Wpointer-arith -Wcast-qual \
		   -Wno-unused-parameter
HARDEN		 = -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDHARDEN	 = -Wl,-z,relro,-z,now
ifeq ($(SANITIZE),1)
CFLAGS		 = -O1 -g -fno-omit-frame-pointer
HARDEN		 = -fsanitize=address,undefined -fno-sanitize-recover=all
LDHARDEN	 = -fsanitize=address,undefined
endif
# ThreadSanitizer (gcc's needs libtsan2): make BUILDDIR=build-tsan TSAN=1;
# make check runs the concurrency tests on it (tests/tsan.supp).
ifeq ($(TSAN),1)
CFLAGS		 = -O1 -g -fno-omit-frame-pointer
HARDEN		 = -fsanitize=thread
LDHARDEN	 = -fsanitize=thread
endif
ifeq ($(WERROR),1)
WARNFLAGS	+= -Werror
endif

DEP_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# libfcgi's .pc lacks -pthread; the worker pool needs it.
DEP_LIBS	:= $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm -pthread
CMOCKA_LIBS	:= $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)
ALL_CFLAGS	 = -std=gnu11 -D_GNU_SOURCE -pthread $(CFLAGS) $(WARNFLAGS) \
		   $(HARDEN) $(DEP_CFLAGS) -Ifcgi -Ihandlers -MMD -MP

LIB_SRCS	 = $(filter-out fcgi/main.c $(EXCLUDE),$(wildcard fcgi/*.c fcgi/*/*.c)) \
		   $(wildcard handlers/*.c) $(EXTRA)
LIB_OBJS	 = $(LIB_SRCS:%.c=$(BUILDDIR)/%.o)
UNIT_SRCS	 = $(wildcard tests/unit/test_*.c)
UNIT_BINS	 = $(UNIT_SRCS:tests/unit/%.c=$(BUILDDIR)/tests/%)
CONF_SRCS	 = $(wildcard tests/conformance/*.c)
CONF_BINS	 = $(CONF_SRCS:tests/conformance/%.c=$(BUILDDIR)/tests/%)
BENCH_SRCS	 = $(wildcard tests/bench/*.c)
BENCH_BINS	 = $(BENCH_SRCS:tests/bench/%.c=$(BUILDDIR)/tests/%)

all: $(BUILDDIR)/cmsi.fcgi

# The build's name in /metrics (cmsi_build_info): the git commit, or
# VERSION from make's command line.
VERSION		?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILDDIR)/fcgi/core/metrics.o: ALL_CFLAGS += -DCMSI_VERSION='"$(VERSION)"'
$(BUILDDIR)/fcgi/about.o: ALL_CFLAGS += -DCMSI_VERSION='"$(VERSION)"'

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILDDIR)/libcmsi.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(BUILDDIR)/cmsi.fcgi: $(BUILDDIR)/fcgi/main.o $(BUILDDIR)/libcmsi.a
	$(CC) $(LDHARDEN) $(LDFLAGS) -o $@ $(BUILDDIR)/fcgi/main.o \
	    $(BUILDDIR)/libcmsi.a $(DEP_LIBS)

$(BUILDDIR)/tests/%: tests/unit/%.c $(BUILDDIR)/libcmsi.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $< $(BUILDDIR)/libcmsi.a \
	    $(DEP_LIBS) $(CMOCKA_LIBS)

$(BUILDDIR)/tests/%: tests/conformance/%.c $(BUILDDIR)/libcmsi.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $< $(BUILDDIR)/libcmsi.a $(DEP_LIBS)

$(BUILDDIR)/tests/%: tests/bench/%.c $(BUILDDIR)/libcmsi.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $< $(BUILDDIR)/libcmsi.a $(DEP_LIBS)

tests-build: all $(UNIT_BINS) $(CONF_BINS) $(BENCH_BINS)

# The README's test command: the plain build, then the same suites under
# ASan+UBSan, then the concurrency suite under ThreadSanitizer, one tally
# at the end.
# The three builds compile on every core (CHECK_BUILD_JOBS) unless make
# was given -j itself; tests/check.sh runs the e2e units CHECK_JOBS at a
# time (tests/e2e/run.py).
CHECK_BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CHECK_J = $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(CHECK_BUILD_JOBS))
check: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory $(CHECK_J) tests-build
	@$(MAKE) --no-print-directory $(CHECK_J) BUILDDIR=build-asan SANITIZE=1 tests-build
	@$(MAKE) --no-print-directory $(CHECK_J) BUILDDIR=build-tsan TSAN=1 all
	@sh tests/check.sh --tsan build-tsan $(BUILDDIR) build-asan

check-unit check-e2e check-conformance: tests-build
	@sh tests/check.sh --only $(@:check-%=%) $(BUILDDIR)

# Each deliberate bug of tests/mutate/mutations.txt, one at a time in a
# copy of the tree, against the suite that must catch it (never in place).
# Then MUTATE_SAMPLE generated ones (tests/mutate/gen.py), a sample
# seeded by SEED (default: today's date; printed, so a run repeats).
# mutate-all runs the whole generated set: unit programs first, then
# the survivors against their area's e2e scripts (hours on 2 cores).
MUTATE_SAMPLE	?= 10
mutate: deps tests-build
	@/usr/bin/python3 tests/mutate/run.py --sample $(MUTATE_SAMPLE) \
	    $(if $(SEED),--seed $(SEED))

mutate-all: deps tests-build
	@rm -f $(BUILDDIR)/mutate-unit.tsv $(BUILDDIR)/mutate-e2e.tsv
	@/usr/bin/python3 tests/mutate/run.py --all-generated --unit-only \
	    --out $(BUILDDIR)/mutate-unit.tsv || true
	@awk -F'\t' '$$1 == "survived" { print $$2 }' \
	    $(BUILDDIR)/mutate-unit.tsv > $(BUILDDIR)/mutate-survivors.txt
	@/usr/bin/python3 tests/mutate/run.py \
	    --ids-file $(BUILDDIR)/mutate-survivors.txt \
	    --out $(BUILDDIR)/mutate-e2e.tsv || true
	@/usr/bin/python3 tests/mutate/run.py --summary \
	    $(BUILDDIR)/mutate-unit.tsv $(BUILDDIR)/mutate-e2e.tsv

bench: deps tests-build
	@sh tests/bench/run.sh $(BUILDDIR)

valgrind: tests-build
	@sh tests/check.sh --valgrind --only unit $(BUILDDIR)

run: deps
	@$(MAKE) --no-print-directory all
	@sh conf/run.sh $(BUILDDIR) "$(PORT)" "$(CMSI_CONF)"

configtest: all
	$(BUILDDIR)/cmsi.fcgi -t -c conf/cmsi.example.json

# Installs what is missing of DEBS.  apache2, nginx and lighttpd would
# start on port 80 as they install: a policy-rc.d that refuses every
# start prevents it (one already there is left as it is).
deps:
	@missing=; for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        policy=; \
	        if [ ! -e /usr/sbin/policy-rc.d ]; then \
	            policy=/usr/sbin/policy-rc.d; \
	            trap 'rm -f /usr/sbin/policy-rc.d' EXIT INT TERM; \
	            printf '#!/bin/sh\nexit 101\n' > $$policy; \
	            chmod 0755 $$policy; \
	        fi; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing; \
	        rc=$$?; [ -z "$$policy" ] || rm -f $$policy; exit $$rc; \
	    else \
	        echo "missing packages; run as root: apt-get install$$missing"; \
	        exit 1; \
	    fi; \
	fi

lint:
	@! grep -nE '\<(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|gets|atoi|atol|atof|strtok|system|popen|alloca|rand)\(' \
	    fcgi/*.c fcgi/*/*.c handlers/*.c || { echo "banned function"; exit 1; }
	@! grep -n '//' fcgi/*.c fcgi/*/*.[ch] fcgi/*.h handlers/*.c | grep -v '://' \
	    || { echo "// comment"; exit 1; }
	@sh tests/lint_layers.sh

# make install: the binary in libexec, schemas and templates in share,
# the example config in etc with its paths pointed at share and
# STATEDIR; an existing cmsi.json or users.json is never overwritten.
# No user directory is installed: the made-up people of
# users.example.json go along as that name only, and the installed
# config names no users file until the operator writes one.
# The web server snippets (share/cmsi/examples) and the systemd units
# (SYSTEMDDIR) get this install's paths.
SYSTEMDDIR	?= $(PREFIX)/lib/systemd/system
DEPLOY		 = lighttpd.conf apache-fcgid.conf apache-proxy-fcgi.conf \
		   nginx.conf logrotate.conf htaccess cmsi-413.json \
		   apache-user.conf
INSTALL_SED	 = -e 's|/usr/local/libexec/cmsi|$(LIBEXECDIR)/cmsi|g' \
		   -e 's|/usr/local/share/cmsi|$(DATADIR)|g' \
		   -e 's|/etc/cmsi|$(SYSCONFDIR)/cmsi|g' \
		   -e 's|/var/lib/cmsi|$(STATEDIR)|g' \
		   -e 's|PREFIX=/usr/local|PREFIX=$(PREFIX)|g'
CONF_SED	 = -e 's|"schemas_dir": "[^"]*"|"schemas_dir": "$(DATADIR)/schemas"|' \
		   -e 's|"templates_dir": "[^"]*"|"templates_dir": "$(DATADIR)/templates"|' \
		   -e 's|"state_dir": "[^"]*"|"state_dir": "$(STATEDIR)"|' \
		   -e 's|"file": "users.example.json"|"file": ""|'
ETC		 = $(DESTDIR)$(SYSCONFDIR)/cmsi

install: all
	install -d $(DESTDIR)$(LIBEXECDIR)/cmsi $(DESTDIR)$(DATADIR)/schemas \
	    $(DESTDIR)$(DATADIR)/schemas/config \
	    $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR)/examples \
	    $(ETC) $(DESTDIR)$(SYSTEMDDIR)
	install -d -m 0750 $(DESTDIR)$(STATEDIR)
	install -m 0755 $(BUILDDIR)/cmsi.fcgi $(DESTDIR)$(LIBEXECDIR)/cmsi/
	install -m 0644 conf/schemas/*.json $(DESTDIR)$(DATADIR)/schemas/
	install -m 0644 conf/schemas/config/*.json \
	    $(DESTDIR)$(DATADIR)/schemas/config/
	cp -R templates/. $(DESTDIR)$(DATADIR)/templates/
	chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/templates
	install -m 0644 README.md $(DESTDIR)$(DATADIR)/
	install -d $(DESTDIR)$(DATADIR)/doc $(DESTDIR)$(MANDIR)/man8
	install -m 0644 doc/*.md doc/*.png $(DESTDIR)$(DATADIR)/doc/
	sed $(INSTALL_SED) doc/cmsi.fcgi.8 > $(DESTDIR)$(MANDIR)/man8/cmsi.fcgi.8
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/cmsi.fcgi.8
	for f in $(DEPLOY); do sed $(INSTALL_SED) conf/$$f \
	    > $(DESTDIR)$(DATADIR)/examples/$$f || exit 1; done
	for f in cmsi.socket cmsi.service cmsi-drain.service \
	    cmsi-drain.timer; do sed $(INSTALL_SED) \
	    conf/systemd/$$f > $(DESTDIR)$(SYSTEMDDIR)/$$f || exit 1; done
	sed $(INSTALL_SED) $(CONF_SED) conf/cmsi.example.json \
	    > $(ETC)/cmsi.example.json
	chmod 0644 $(ETC)/cmsi.example.json
	[ -e $(ETC)/cmsi.json ] || \
	    install -m 0640 $(ETC)/cmsi.example.json $(ETC)/cmsi.json
	install -m 0644 conf/users.example.json $(ETC)/users.example.json

# Leaves the config (cmsi.json, users.json if one was written) and the
# state directory.
uninstall:
	rm -f $(DESTDIR)$(LIBEXECDIR)/cmsi/cmsi.fcgi $(ETC)/cmsi.example.json \
	    $(ETC)/users.example.json $(DESTDIR)$(MANDIR)/man8/cmsi.fcgi.8 \
	    $(DESTDIR)$(SYSTEMDDIR)/cmsi.socket \
	    $(DESTDIR)$(SYSTEMDDIR)/cmsi.service \
	    $(DESTDIR)$(SYSTEMDDIR)/cmsi-drain.service \
	    $(DESTDIR)$(SYSTEMDDIR)/cmsi-drain.timer $(DESTDIR)$(DATADIR)/README.md
	rm -rf $(DESTDIR)$(DATADIR)/schemas $(DESTDIR)$(DATADIR)/templates \
	    $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(DATADIR)/doc
	-rmdir $(DESTDIR)$(LIBEXECDIR)/cmsi $(DESTDIR)$(DATADIR) 2>/dev/null
	@echo "kept $(ETC) (your config) and $(STATEDIR) (state)"

.PHONY: uninstall

clean:
	rm -rf build build-asan build-tsan

.PHONY: all check check-unit check-e2e check-conformance tests-build bench mutate mutate-all \
	valgrind run configtest deps lint install clean

# A unit program's .d (gcc -MMD beside the binary) names the headers it
# includes, tests/unit/tdir.h among them: editing one rebuilds its users.
-include $(LIB_OBJS:.o=.d) $(BUILDDIR)/fcgi/main.d $(UNIT_BINS:=.d)

# libFuzzer targets (clang, libclang-rt-14-dev): FUZZ_SECONDS each.  The
# library is compiled once with fuzzer instrumentation and each target
# links it (with the ldflags its comment names, e.g. --wrap).  make check
# runs each for FUZZ_CHECK_SECONDS; make fuzz as long as asked.
FUZZ_SECONDS	?= 30
FUZZ_CHECK_SECONDS ?= 5
FUZZDIR		?= build-fuzz
FUZZ_SRCS	 = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS	 = $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZDIR)/%)
FUZZ_OBJS	 = $(patsubst %.c,$(FUZZDIR)/%.o,$(filter-out fcgi/main.c,$(LIB_SRCS)))
FUZZ_CFLAGS	 = -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-sanitize-recover=all \
		   $(DEP_CFLAGS) -Ifcgi -Ihandlers

$(FUZZDIR)/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined \
	    -c -o $@ $<

$(FUZZDIR)/libcmsi.a: $(FUZZ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $(FUZZ_OBJS)

$(FUZZDIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZDIR)/libcmsi.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(FUZZDIR)/libcmsi.a $(DEP_LIBS) \
	    $$(sed -n 's/^ \* ldflags: //p' $<)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_SRCS); do \
	    n=$$(basename $$f .c); \
	    mkdir -p $(FUZZDIR)/corpus-$$n; \
	    dict=; [ ! -f tests/fuzz/$${n#fuzz_}.dict ] || \
	        dict=-dict=tests/fuzz/$${n#fuzz_}.dict; \
	    $(FUZZDIR)/$$n $$dict -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZDIR)/$$n- \
	        $(FUZZDIR)/corpus-$$n tests/fuzz/corpus/$${n#fuzz_} \
	        > $(FUZZDIR)/$$n.log 2>&1; \
	    rc=$$?; \
	    printf '%-16s %s\n' $$n "$$(grep -E 'number_of_executed_units' \
	        $(FUZZDIR)/$$n.log | tr -s ' ')"; \
	    [ $$rc = 0 ] || { grep -E 'ERROR|SUMMARY' $(FUZZDIR)/$$n.log; \
	        tail -n 40 $(FUZZDIR)/$$n.log; exit 1; }; \
	done
.PHONY: fuzz
