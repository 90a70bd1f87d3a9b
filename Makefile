# cicada: Locust, native.  `make` builds ./cicada; `make run` and `make test` also install
# what they need on Debian 12 (see README.md).

# Build variant: the default build goes to build/ and links ./cicada; `SAN=1` builds the
# same sources with ASan+UBSan into build/asan/ (used by `make test`).
SAN ?=
FUZZ ?=
ifeq ($(FUZZ),1)
# `make fuzz`: the same sources built by clang for libFuzzer into build/fuzz/ (coverage
# instrumentation plus ASan+UBSan; the targets in tests/fuzz/ link these objects).
B        := build/fuzz
CC       := clang
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
            -fno-sanitize-recover=undefined
BIN      := $(B)/cicada
else ifeq ($(SAN),1)
B        := build/asan
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
BIN      := $(B)/cicada
else
B        := build
OPT      := -O2 -g
BIN      := cicada
endif

CC       ?= cc
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
WARN     := -std=c11 -Wall -Wextra -Werror=implicit-function-declaration \
            -Werror=incompatible-pointer-types -Wshadow -Wno-missing-field-initializers
CFLAGS   ?=
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Iengine -Iserver -I$(B)/gen
ALLFLAGS  = $(WARN) $(OPT) $(CFLAGS) $(CPPFLAGS) -MMD -MP
LIBS     := -lev -lcurl -lmicrohttpd -lzmq -lm -ldl
TESTLIBS := -lcmocka

ENGINE_SRC := $(sort $(wildcard engine/*.c))
SERVER_SRC := $(sort $(wildcard server/*.c))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(B)/%.o) $(B)/gen/version.o
SERVER_OBJ := $(SERVER_SRC:%.c=$(B)/%.o)
LIB        := $(B)/libcicada.a
# server/ minus main.o, so unit tests can link the program's modules too.
SLIB       := $(B)/libserver.a
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

# Web assets are compiled into the binary (one file is the whole program).
ASSETS     := $(sort $(wildcard web/static/* web/templates/*)) include/cicada.h
ASSET_C    := $(B)/gen/assets.c

PY         := /usr/bin/python3
DEB_BUILD  := gcc make libc6-dev libev-dev libcurl4-openssl-dev libmicrohttpd-dev libzmq3-dev
DEB_TEST   := libcmocka-dev python3-pytest python3-requests python3-zmq python3-locust chromium \
              firefox-esr clang libclang-rt-14-dev

Q := @
ifeq ($(V),1)
Q :=
endif

.PHONY: all run test unit e2e browser asan-test deps test-deps clean bench bench-stats soak fuzz fuzz-run \
        fuzz-smoke FORCE

all: $(BIN)

$(BIN): $(B)/server/main.o $(SLIB) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) -rdynamic -o $@ $(B)/server/main.o $(SLIB) $(LIB) $(LIBS)

$(SLIB): $(filter-out $(B)/server/main.o,$(SERVER_OBJ)) $(B)/gen/assets.o
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB): $(ENGINE_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLFLAGS) -c -o $@ $<

# Rewritten only when the version changes, so it is the one object that knows it.
$(B)/gen/version.c: FORCE
	@mkdir -p $(dir $@)
	@echo 'const char cicada_version[] = "$(VERSION)";' > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

$(B)/gen/version.o: $(B)/gen/version.c
	$(Q)$(CC) $(ALLFLAGS) -c -o $@ $<

FORCE:

$(B)/tools/embed: tools/embed.c Makefile
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -Wall -Wextra -O2 -o $@ $<

$(ASSET_C): $(B)/tools/embed $(ASSETS) Makefile
	@mkdir -p $(dir $@)
	@echo "  EMBED   web/"
	$(Q)$(B)/tools/embed $@ $(ASSETS)

$(B)/gen/assets.o: $(ASSET_C)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLFLAGS) -c -o $@ $<

# -rdynamic as for cicada: plugins dlopen'ed by the tests call the binary's cicada_*.
$(B)/tests/%: tests/unit/%.c $(SLIB) $(LIB) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLFLAGS) -rdynamic -Itests/unit -o $@ $< $(SLIB) $(LIB) $(LIBS) $(TESTLIBS)

# ---- set-up ---------------------------------------------------------------------------
# Installs only what is missing, so a ready machine runs no apt-get at all.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(DEB_BUILD))

test-deps: deps
	$(call apt_install,$(DEB_TEST))
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "installing Debian packages: nodejs npm"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@cd tests/browser && { [ -d node_modules/playwright-core ] && [ -d node_modules/puppeteer-core ] || \
	  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; }

# ---- main job: the demo --------------------------------------------------------------
# The built-in demo target on 127.0.0.1:$(DEMO_PORT), and the dashboard on :$(WEB_PORT)
# with examples/demo.json: open http://localhost:8089 and press Start. Ctrl-C ends both:
# the target runs in a session of its own, so the terminal's Ctrl-C stops only the test,
# whose users still log out (on_stop) before the target is ended after it.
DEMO_PORT ?= 8080
WEB_PORT ?= 8089
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)setsid ./cicada --demo-target 127.0.0.1:$(DEMO_PORT) & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT INT TERM; \
	sleep 0.3; \
	echo ""; \
	echo "  Open http://localhost:$(WEB_PORT) and press Start (Ctrl-C here to end)."; \
	echo ""; \
	./cicada -f examples/demo.json -H http://127.0.0.1:$(DEMO_PORT) \
	    --web-host 127.0.0.1 -P $(WEB_PORT) -u 50 -r 10 --csv build/demo; \
	rc=$$?; kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; exit $$rc

# ---- tests ----------------------------------------------------------------------------
unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do echo "  UNIT    $$t"; $$t || exit 1; done

e2e: $(BIN)
	$(Q)CICADA_BIN=$(abspath $(BIN)) $(PY) -m pytest -q -p no:cacheprovider tests/e2e

# The dashboard in headless Chromium (Debian's), driven by playwright-core from npm, then
# in headless Firefox (Debian's firefox-esr), driven over WebDriver BiDi by puppeteer-core.
browser: $(BIN)
	$(Q)CICADA_BIN=$(abspath $(BIN)) node tests/browser/dashboard.test.mjs
	$(Q)CICADA_BIN=$(abspath $(BIN)) node tests/browser/workload.test.mjs
	$(Q)CICADA_BIN=$(abspath $(BIN)) node tests/browser/firefox.test.mjs

# Everything `make test` runs, in order: plain build, unit, end-to-end, browser; then the
# same tests under ASan+UBSan; then a short run of every fuzz target.
test: test-deps
	$(Q)$(MAKE) --no-print-directory all unit e2e browser
	$(Q)$(MAKE) --no-print-directory SAN=1 asan-test
	$(Q)$(MAKE) --no-print-directory FUZZ=1 fuzz-smoke

asan-test: export ASAN_OPTIONS = detect_leaks=1:abort_on_error=0:halt_on_error=1
asan-test: export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
asan-test: all unit e2e browser

# ---- fuzzing --------------------------------------------------------------------------
# libFuzzer targets, one per parser of outside input (tests/fuzz/, docs/architecture.md).
# `make fuzz` runs each for FUZZ_SECS seconds with ASan+UBSan and fails if any crashes,
# leaks or trips UBSan; what it finds is in build/fuzz/crashes/. New inputs collect in
# build/fuzz/corpus/ (the seeds in tests/fuzz/corpus/ are only read). `fuzz-smoke`, part of
# `make test`, replays every seed and regression input and fuzzes each target SMOKE_SECS.
DEB_FUZZ   := clang libclang-rt-14-dev
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/bin/%)
FUZZ_SECS  ?= 60
SMOKE_SECS ?= 3
FUZZ_ARGS  ?=

$(B)/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(SLIB) $(LIB) Makefile
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $<"
	$(Q)$(CC) $(ALLFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(SLIB) $(LIB) $(LIBS)

fuzz: deps
	$(call apt_install,$(DEB_FUZZ))
	$(Q)$(MAKE) --no-print-directory FUZZ=1 fuzz-run

# $(1): seconds per target, $(2): where new inputs go.
define fuzz_each
	@failed=""; for b in $(FUZZ_BIN); do t=$${b##*/}; \
	  mkdir -p $(2)/$$t $(B)/crashes; \
	  dict=""; [ -f tests/fuzz/$$t.dict ] && dict="-dict=tests/fuzz/$$t.dict"; \
	  $$b -max_total_time=$(1) -detect_leaks=1 -print_final_stats=1 $$dict \
	      -artifact_prefix=$(B)/crashes/$$t- $(FUZZ_ARGS) $(2)/$$t tests/fuzz/corpus/$$t \
	      >$(B)/$$t.log 2>&1 || { failed="$$failed $$t"; tail -n 40 $(B)/$$t.log; }; \
	  echo "  FUZZ    $$t: $$(sed -n 's/^stat::number_of_executed_units: *//p' $(B)/$$t.log) runs in $(1) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzzing failed:$$failed (see $(B)/crashes/)"; exit 1; fi
endef

fuzz-run: $(FUZZ_BIN)
	$(call fuzz_each,$(FUZZ_SECS),$(B)/corpus)

fuzz-smoke: $(FUZZ_BIN)
	@rm -rf $(B)/smoke
	$(call fuzz_each,$(SMOKE_SECS),$(B)/smoke)

# ---- benchmarks -----------------------------------------------------------------------
# Measurements, not assertions (docs/performance.md): nginx on core 0 as the loopback
# target, each generator alone on core 1. bench/compare.sh runs cicada beside wrk and
# Locust 2.12 and prints one table; bench/distributed.sh prices distribution. BENCH_SECS
# sets the length of each run, ROUNDS the rounds (about 12 minutes with the defaults).
DEB_BENCH  := nginx wrk bc time curl python3-locust python3-zmq
BENCH_SECS ?= 10
bench: deps
	$(call apt_install,$(DEB_BENCH))
	$(Q)$(MAKE) --no-print-directory all bench-stats
	$(Q)bash bench/compare.sh $(BENCH_SECS)
	$(Q)bash bench/distributed.sh $(BENCH_SECS)

# A long run (bench/soak.sh): a master with its dashboard polled and two workers, one of
# them killed and restarted at the midpoint; RSS, open fds and statistics memory of every
# process each SOAK_SAMPLE seconds must stay flat after warm-up. Results in build/soak/.
SOAK_MINUTES ?= 60
SOAK_USERS   ?= 3000
SOAK_SAMPLE  ?= 60
soak: deps
	$(call apt_install,nginx curl python3)
	$(Q)$(MAKE) --no-print-directory all
	$(Q)SOAK_MINUTES=$(SOAK_MINUTES) SOAK_USERS=$(SOAK_USERS) SOAK_SAMPLE=$(SOAK_SAMPLE) \
	    bash bench/soak.sh

# The cost of recording one request in the statistics, on core 1 (a few seconds).
bench-stats: $(B)/bench/stats_bench
	$(Q)taskset -c 1 $< 2>/dev/null || $<

$(B)/bench/stats_bench: bench/stats_bench.c $(LIB) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALLFLAGS) -o $@ $< $(LIB) $(LIBS)

clean:
	rm -rf build cicada

-include $(ENGINE_OBJ:.o=.d) $(SERVER_OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_BIN:=.d)
