# voucherd — build, test, demo.  See README.md.
#
#   make                      build bin/voucherd, bin/voucherctl, bin/voucher-push
#   make SANITIZE=address,undefined   the same with sanitizers (objects in build/san/)
#   make test                 unit + integration tests against a real PostgreSQL and daemon
#   make demo                 the whole metering path on a throw-away database
#   make deps                 install missing Debian packages (as root) or say how

CC ?= cc
SANITIZE ?=
PKGS := libevent libevent_openssl libssl libcrypto libpq jansson

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
CFLAGS_ALL := -std=gnu11 -g -I. -I/usr/include/postgresql -D_GNU_SOURCE $(WARN) $(CFLAGS)
ifeq ($(SANITIZE),)
  OBJDIR := build/obj
  CFLAGS_ALL += -O2
else
  OBJDIR := build/san
  CFLAGS_ALL += -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIBS_CORE := -lssl -lcrypto -ljansson -lpq
LIBS_EVENT := -levent_openssl -levent
LIBS_XLSX := $(shell test -e /usr/include/xlsxwriter.h && echo -lxlsxwriter)

COMMON_SRC := $(sort $(wildcard common/*.c))
METER_SRC := $(sort $(wildcard metering/*.c))
SETTLE_SRC := $(sort $(wildcard settlement/*.c))
AUDIT_SRC := $(sort $(wildcard audit/*.c))
DAEMON_SRC := $(sort $(wildcard daemon/*.c))
CTL_SRC := $(sort $(wildcard ctl/*.c))
CLIENT_SRC := $(sort $(wildcard client/*.c))
CONSOLE_SRC := $(sort $(wildcard console/*.c))
BENCH_SRC := $(sort $(wildcard client/bench/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c tests/integration/*.c))
SQL := $(sort $(wildcard sql/[0-9][0-9][0-9]_*.sql)) $(wildcard sql/views/*.sql sql/functions/*.sql) sql/grants.sql

obj = $(patsubst %.c,$(OBJDIR)/%.o,$(1))

# metering/division.c's table, generated from the GB/T 2260 data file
LIB_OBJ := $(call obj,$(COMMON_SRC) $(METER_SRC)) $(OBJDIR)/division_table.o
# a static archive, so that each program links only the modules it uses
LIB := $(OBJDIR)/libvoucher.a
DAEMON_OBJ := $(call obj,$(DAEMON_SRC))
CTL_OBJ := $(call obj,$(CTL_SRC) $(SETTLE_SRC) $(AUDIT_SRC)) $(OBJDIR)/migrations.o
CLIENT_OBJ := $(call obj,$(CLIENT_SRC))
CONSOLE_OBJ := $(call obj,$(CONSOLE_SRC) $(SETTLE_SRC) $(AUDIT_SRC))
# voucher-bench: its own main and voucher-push's HTTPS client
BENCH_OBJ := $(call obj,$(BENCH_SRC)) $(filter-out %/main.o,$(CLIENT_OBJ))
# tests link every module except the programs' main files
TEST_OBJ := $(call obj,$(TEST_SRC)) $(filter-out %/main.o,$(DAEMON_OBJ) $(CTL_OBJ) $(CLIENT_OBJ)) \
	$(call obj,$(filter-out console/main.c,$(CONSOLE_SRC)))

BINS := bin/voucherd bin/voucherctl bin/voucher-push bin/voucher-bench bin/voucher-console

# bin/ holds one flavour at a time (plain or sanitized): relink when it changes
STAMP := bin/.flavour
$(shell mkdir -p bin; [ "$$(cat $(STAMP) 2>/dev/null)" = "$(OBJDIR)" ] || echo "$(OBJDIR)" > $(STAMP))
LINK = $(CC) $(LDFLAGS) -o $@ $(filter-out $(STAMP),$^)

.PHONY: format format-check all deps test unit demo clean bench-settle bench-verify bench-ingest bench-parse check-valgrind fuzz check-fuzz check-faults check-cluster check-hostile check-failover
all: $(BINS)

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

bin/voucherd: $(DAEMON_OBJ) $(LIB) $(STAMP)
	$(LINK) $(LIBS_EVENT) $(LIBS_CORE)
bin/voucherctl: $(CTL_OBJ) $(LIB) $(STAMP)
	$(LINK) $(LIBS_CORE) $(LIBS_XLSX)
bin/voucher-console: $(CONSOLE_OBJ) $(LIB) $(STAMP)
	$(LINK) $(LIBS_EVENT) $(LIBS_CORE) $(LIBS_XLSX)
bin/voucher-push: $(CLIENT_OBJ) $(LIB) $(STAMP)
	$(LINK) $(LIBS_CORE)
bin/voucher-bench: $(BENCH_OBJ) $(LIB) $(STAMP)
	$(LINK) $(LIBS_CORE) -lpthread
bin/tests: $(TEST_OBJ) $(LIB) $(STAMP)
	$(LINK) -lcriterion $(LIBS_EVENT) $(LIBS_CORE) $(LIBS_XLSX)

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# the SQL of the record codes, from metering/codes.h (one list for C and SQL)
$(OBJDIR)/gen_codes: sql/gen_codes.c metering/codes.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $<
$(OBJDIR)/reject_codes.sql: $(OBJDIR)/gen_codes
	$< > $@.tmp && mv $@.tmp $@
$(OBJDIR)/migrations.c: $(SQL) $(OBJDIR)/reject_codes.sql sql/embed.sh
	@mkdir -p $(dir $@)
	sh sql/embed.sh $(OBJDIR)/reject_codes.sql > $@.tmp && mv $@.tmp $@
$(OBJDIR)/migrations.o: $(OBJDIR)/migrations.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# the GB/T 2260 division table of metering/division.c, from metering/gb2260.txt
$(OBJDIR)/division_table.c: metering/gb2260.txt metering/gen_divisions.sh
	@mkdir -p $(dir $@)
	sh metering/gen_divisions.sh metering/gb2260.txt > $@.tmp && mv $@.tmp $@
$(OBJDIR)/division_table.o: $(OBJDIR)/division_table.c metering/division.h
	$(CC) $(CFLAGS_ALL) -c $< -o $@

deps:
	@sh deploy/install-deps.sh

# Unit tests need no database; `make test` runs them and the integration tests
# in one Criterion binary, started by the harness that provides PostgreSQL and
# the daemon, so that the last line is Criterion's summary.
unit: bin/tests
	bin/tests --filter='unit_*/*'

test: deps
	@sh tests/layering.sh
	@$(MAKE) --no-print-directory all bin/tests
	@sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh deploy/demo.sh

# the daemon tests with voucherd under valgrind: any error or definite leak
# makes voucherd exit 99 and its test fail (logs in build/valgrind/)
check-valgrind: deps
	@$(MAKE) --no-print-directory all bin/tests
	@rm -rf build/valgrind && mkdir -p build/valgrind
	@VOUCHER_TEST_WRAP=$(CURDIR)/tests/valgrind-wrap.sh sh tests/run.sh --filter='ingest/*'

# settle a month of 10 million records for 100,000 enterprises beside a bare
# GROUP BY over the same rows (RECORDS=, ENTERPRISES=, RUNS= to change)
bench-settle: deps
	@$(MAKE) --no-print-directory all
	@sh tests/bench/settle.sh

# audit verify over 1,000,000 records and 100,000 ledger entries, with its rate
bench-verify: deps
	@$(MAKE) --no-print-directory all
	@sh tests/bench/verify.sh

# end-to-end ingest through voucherd beside bare COPY of the same rows
# (RECORDS=, BATCH=, CONNECTIONS= to change)
bench-ingest: deps
	@$(MAKE) --no-print-directory all
	@sh tests/bench/ingest.sh

# the console at scale: 100,000 enterprises and 10,000,000 usage records
# (loaded directly in SQL), six months settled and approved, then the run page
# of 100,000 lines, the runs list, the overview and the notice timed against
# the budgets (tests/console/bench.sh; ENTERPRISES=, RECORDS=, MONTHS=, REPS=)
.PHONY: bench-console
bench-console: deps
	@$(MAKE) --no-print-directory all
	@sh tests/console/bench.sh

# parsing a 1,000-record body: metering/json and meter_batch_parse beside jansson
bench-parse: $(OBJDIR)/bench-parse
	@$(OBJDIR)/bench-parse
$(OBJDIR)/bench-parse: $(call obj,tests/bench/parse.c) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CORE)

# voucherd killed under load, the database stopped under load, two daemons
# on one database, slow and vanishing clients (tests/faults/run.sh, ~1 min)
check-faults: deps
	@$(MAKE) --no-print-directory all
	@sh tests/faults/run.sh

# attacks beside a normal load: 15 MB bodies from an unregistered certificate,
# idle TLS connections, descriptor exhaustion, a handshake flood, bad
# Content-Length, the metrics port (tests/hostile/run.sh, ~3 min; HOSTILE_*=
# to change the sizes); prints one line of figures per attack
check-hostile: deps
	@$(MAKE) --no-print-directory all
	@sh tests/hostile/run.sh

# the console in a real browser (headless Chromium through Selenium): sign-in,
# every page without a console error, the review chain, the public notice,
# the XLSX download, CSRF, session expiry, the throttle, a script as a name
# (tests/browser/run.sh, ~1 min; screenshots in build/screens/)
.PHONY: check-browser
check-browser:
	@sh deploy/install-deps.sh browser
	@$(MAKE) --no-print-directory all
	@timeout --kill-after=15 300 sh tests/browser/run.sh

# losing the database machine: a pg_auto_failover formation (a primary and a
# synchronous standby, deploy/ha/) under a steady signed load; the primary
# killed, then its replacement, the standby and then the primary frozen;
# every batch answered 200 and stored once, audit verify on the new primary,
# the unavailability at each switch (tests/failover/run.sh); settle and run
# approve across a switch (tests/failover/settle.sh); three data nodes with
# number_sync_standbys = 1 losing one standby, then both (tests/failover/
# three.sh); and the throughput cost
# of the synchronous standby (bench-ingest with HA=1, FAILOVER_BENCH_RECORDS
# records).  About 5 minutes.
.PHONY: check-failover
check-failover: deps
	@$(MAKE) --no-print-directory all
	@sh tests/failover/run.sh
	@sh tests/failover/settle.sh
	@sh tests/failover/three.sh
	@echo; echo "== the cost of the synchronous standby (bench-ingest, HA=1)"
	@HA=1 RECORDS=$${FAILOVER_BENCH_RECORDS:-200000} sh tests/bench/ingest.sh | grep -E '^summary|^result|^machine'

# two voucherd behind HAProxy with one killed, a streaming replica for
# auditors, a multi-host conninfo (tests/cluster/run.sh, ~30 s)
check-cluster: deps
	@$(MAKE) --no-print-directory all
	@sh tests/cluster/run.sh

# libFuzzer targets (clang, ASan + UBSan) for what reads untrusted input:
# body, signature headers, field validators, programme files, config files,
# the enterprise registry CSV, voucher-push's reading of HTTP responses, and
# the console's HTML escaping and message translation.
# `make check-fuzz` runs each for FUZZ_SECONDS from its seed corpus in
# tests/fuzz/corpus/; a crash leaves its input in build/fuzz/artifacts/.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := body headers validate program config csv response html
FUZZ_LIB_SRC := common/b64.c common/buf.c common/csv.c common/date.c common/hex.c common/ini.c common/log.c common/money.c common/pgarray.c common/validate.c \
	metering/json.c metering/batch.c metering/sfv.c metering/sig.c daemon/config.c daemon/pghosts.c settlement/program.c \
	settlement/program_rules.c client/push.c console/html.c console/messages.c
FUZZ_CFLAGS := -std=gnu11 -g -O1 -I. -I/usr/include/postgresql -D_GNU_SOURCE -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(patsubst %.c,build/fuzz/%.o,$(FUZZ_LIB_SRC))
.SECONDARY: $(FUZZ_LIB_OBJ)
build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ -lssl -lcrypto -ljansson -lpq
fuzz: deps
	@$(MAKE) --no-print-directory $(addprefix build/fuzz/fuzz_,$(FUZZ_TARGETS))
check-fuzz: fuzz
	@mkdir -p build/fuzz/artifacts
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus/$$t; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-max_len=262144 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$$t- \
			build/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build/fuzz/$$t.log || \
			{ tail -40 build/fuzz/$$t.log; echo "fuzz $$t: FAILED (input in build/fuzz/artifacts/)"; exit 1; }; \
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz/$$t.log | tr '\n' ' '; echo; \
	done

# The C style (.clang-format), with Debian 12's clang-format 14: `make format`
# applies it, `make format-check` (CI) fails on any file that differs.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	@clang-format -i --style=file $(FORMAT_FILES)
format-check:
	@clang-format --version | grep -q 'version 14\.' || { echo "format-check: needs clang-format 14 (Debian 12), found: $$(clang-format --version)"; exit 1; }
	@clang-format --dry-run --Werror --style=file $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files formatted"

clean:
	rm -rf build bin var

-include $(shell find build -name '*.d' 2>/dev/null)
