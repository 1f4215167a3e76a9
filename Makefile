# canopy - cooperative read cache for HPC compute nodes.
#
#   make            build build/canopyd and build/canopyctl
#   make deps       install the Debian packages the build and tests need
#   make test       deps, build, unit tests and functional tests (as root)
#   make check      the same under ASan+UBSan, then under TSan, then fuzz
#   make fuzz       libFuzzer targets for FUZZ_SECONDS (30) each
#   make bench      benchmarks/run (CSV, PNG, summary in benchmarks/results)
#   make run        canopyd in the foreground on the single-node default
#   make install    PREFIX=/usr/local DESTDIR= honoured
#   make SAN=asan|tsan  sanitizer build under build/<san>/
#   V=1             show the commands

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
DATADIR ?= $(PREFIX)/share/canopy
DESTDIR ?=

CC ?= cc
SAN ?=
VARIANT := $(if $(SAN),$(SAN),release)
OUT := build/$(VARIANT)

# the single-node default of `make run`
RUN_MNT ?= /canopy
RUN_ARGS ?=

PKGS := fuse3 liburing jansson libfabric libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libfabric is loaded when a topology opens the transport (io/fabric_lib.c)
PKG_LIBS = $(shell pkg-config --libs $(filter-out libfabric,$(PKGS)) 2>/dev/null)
CRIT_LIBS = $(shell pkg-config --libs criterion 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS ?= -O2 -g
CANOPY_VERSION ?= 0.1.0
CPPFLAGS += -D_GNU_SOURCE -DCANOPY_VERSION=\"$(CANOPY_VERSION)\" -I. -Iconfig -Iio
ALL_CFLAGS = -std=c11 $(WARN) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS = $(PKG_LIBS) -lcrypto -lpthread -lm -ldl

ifeq ($(SAN),asan)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -DCANOPY_DEBUG
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),tsan)
ALL_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer -DCANOPY_DEBUG
LDFLAGS += -fsanitize=thread
else ifneq ($(SAN),)
$(error SAN must be asan or tsan)
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

CONFIG_SRC := $(wildcard config/*.c)
IO_SRC := $(wildcard io/*.c)
DAEMON_SRC := $(filter-out daemon/main.c daemon/canopyctl.c,$(wildcard daemon/*.c))
LIB_SRC := $(CONFIG_SRC) $(IO_SRC) $(DAEMON_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(OUT)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
BENCH_SRC := $(wildcard benchmarks/*.c)
BENCH_BIN := $(BENCH_SRC:benchmarks/%.c=$(OUT)/benchmarks/%)

.PHONY: all deps test unit func check bench run install clean tests-build
.DEFAULT_GOAL := all

all: $(OUT)/canopyd $(OUT)/canopyctl $(BENCH_BIN)
ifeq ($(VARIANT),release)
	$(Q)ln -sf release/canopyd build/canopyd
	$(Q)ln -sf release/canopyctl build/canopyctl
endif

$(OUT)/%.o: %.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(OUT)/canopyd: $(OUT)/daemon/main.o $(LIB_OBJ)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/canopyctl: $(OUT)/daemon/canopyctl.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(LIB_OBJ)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)mkdir -p $(OUT)/dep
	$(Q)$(CC) $(ALL_CFLAGS) -MF $(OUT)/dep/$*.d -Idaemon $(LDFLAGS) -o $@ $^ \
		$(LDLIBS) $(CRIT_LIBS)

$(OUT)/benchmarks/%: benchmarks/%.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)mkdir -p $(OUT)/dep
	$(Q)$(CC) $(ALL_CFLAGS) -MF $(OUT)/dep/bench-$*.d $(LDFLAGS) -o $@ $< \
		$(LDLIBS)

# benchmarks/simulate uses canopy's own trees and owners
$(OUT)/benchmarks/simulate: benchmarks/simulate.c $(OUT)/daemon/tree.o
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) $(OUT)/dep
	$(Q)$(CC) $(ALL_CFLAGS) -MF $(OUT)/dep/bench-simulate.d -Idaemon \
		$(LDFLAGS) -o $@ $^ -lm

# tests/tools/peerpoke: hand-made peer messages (test_peer_badinput.sh)
PEERPOKE_OBJ := $(CONFIG_SRC:%.c=$(OUT)/%.o) $(OUT)/io/fabric.o \
	$(OUT)/io/fabric_lib.o $(OUT)/io/fabric_setup.o $(OUT)/io/wire.o \
	$(OUT)/io/wire_auth.o
$(OUT)/tests/peerpoke: tests/tools/peerpoke.c $(PEERPOKE_OBJ)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) $(OUT)/dep
	$(Q)$(CC) $(ALL_CFLAGS) -MF $(OUT)/dep/peerpoke.d $(LDFLAGS) -o $@ $^ \
		$(LDLIBS)

tests-build: all $(UNIT_BIN) $(OUT)/tests/peerpoke

# Debian packages the build, the tests and the benchmarks use.
DEB_PKGS := build-essential pkg-config libfuse3-dev fuse3 liburing-dev \
	libfabric-dev libjansson-dev libcriterion-dev python3 bindfs fio \
	python3-matplotlib attr util-linux procps iproute2 psmisc libssl-dev \
	squashfs-tools \
	libsystemd-dev systemd
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		if [ "$$(id -u)" != 0 ]; then \
			echo "deps: need root to apt-get install $$missing" >&2; \
			exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq $$missing \
			>/dev/null || exit 1; \
	fi

# Tests: unit tests (criterion) then functional tests with real mounts.
# BUILD selects the binaries under test; tests/run prints the summary line.
test: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)tests/run --build $(OUT)

unit: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)tests/run --build $(OUT) --unit-only

func: deps
	$(Q)$(MAKE) --no-print-directory tests-build
	$(Q)tests/run --build $(OUT) --func-only

check: deps deps-check
	$(Q)$(MAKE) --no-print-directory SAN=asan tests-build
	$(Q)tests/run --build build/asan --sanitizer asan
	$(Q)$(MAKE) --no-print-directory SAN=tsan tests-build
	$(Q)tests/run --build build/tsan --sanitizer tsan
	$(Q)$(MAKE) --no-print-directory fuzz

# Fuzzing: libFuzzer targets (clang, ASan+UBSan), each run for FUZZ_SECONDS
# from its committed seeds in tests/fuzz/corpus/<name>/; what it finds new
# goes to build/fuzz/corpus-<name>/. `make fuzz-seeds` rewrites the seeds.
# The packages only check and fuzz need stay out of DEB_PKGS.
CHECK_DEB_PKGS := clang-14 libclang-rt-14-dev
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS = -std=c11 $(WARN) $(CPPFLAGS) -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_WRAP = $(shell [ "$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || \
	echo 0)" -gt 28 ] && command -v setarch >/dev/null && \
	echo setarch $$(uname -m) -R)

.PHONY: deps-check fuzz fuzz-seeds
deps-check:
	$(Q)$(MAKE) --no-print-directory deps DEB_PKGS="$(CHECK_DEB_PKGS)"

build/fuzz/fuzz_wire: tests/fuzz/fuzz_wire.c io/wire.c io/wire_auth.c io/wire.h
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_wire.c io/wire.c \
		io/wire_auth.c -lcrypto -lpthread

fuzz: deps-check build/fuzz/fuzz_wire
	$(Q)mkdir -p build/fuzz/corpus-wire
	$(Q)$(FUZZ_WRAP) build/fuzz/fuzz_wire -max_total_time=$(FUZZ_SECONDS) \
		-max_len=16384 -timeout=10 -print_final_stats=1 \
		build/fuzz/corpus-wire tests/fuzz/corpus/wire

build/fuzz/wire_seeds: tests/fuzz/wire_seeds.c io/wire.c io/wire_auth.c \
		io/wire.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(WARN) $(CPPFLAGS) $(CFLAGS) -o $@ \
		tests/fuzz/wire_seeds.c io/wire.c io/wire_auth.c -lcrypto -lpthread

fuzz-seeds: build/fuzz/wire_seeds
	$(Q)mkdir -p tests/fuzz/corpus/wire
	$(Q)build/fuzz/wire_seeds tests/fuzz/corpus/wire

bench: deps all
	$(Q)benchmarks/run $(BENCH_ARGS)

run: deps all
	$(Q)mkdir -p $(RUN_MNT)
	@echo "canopyd: mounting the single-node default (a read-only view of /)"
	@echo "canopyd: at $(RUN_MNT); try, in another shell:"
	@echo "    ls $(RUN_MNT)/usr/lib"
	@echo "    PYTHONPATH=$(RUN_MNT)/usr/lib/python3/dist-packages python3 -c 'import json'"
	@echo "    build/canopyctl -m $(RUN_MNT) status"
	@echo "    build/canopyctl -m $(RUN_MNT) stats --json"
	@echo "canopyd: Ctrl-C unmounts and exits."
	$(Q)build/canopyd -f $(RUN_ARGS) $(RUN_MNT)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(DATADIR)/examples
	install -m 0755 $(OUT)/canopyd $(OUT)/canopyctl $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' config/canopy-tunables > \
		$(DESTDIR)$(BINDIR)/canopy-tunables
	chmod 0755 $(DESTDIR)$(BINDIR)/canopy-tunables
	for u in canopyd.service canopyd@.service; do \
		sed 's|@BINDIR@|$(BINDIR)|g' config/$$u > \
			$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -m 0644 config/examples/*.json $(DESTDIR)$(DATADIR)/examples/
	install -m 0755 config/canopy-topology config/canopy-node \
		config/canopy-launch config/canopy-stop $(DESTDIR)$(BINDIR)/
	cd config/examples && find . -mindepth 2 -type f | while read -r f; do \
		install -d "$(DESTDIR)$(DATADIR)/examples/$${f%/*}" && \
		if [ -x "$$f" ]; then m=0755; else m=0644; fi && \
		sed 's|"/usr/local"|"$(PREFIX)"|' "$$f" > \
			"$(DESTDIR)$(DATADIR)/examples/$$f" && \
		chmod $$m "$(DESTDIR)$(DATADIR)/examples/$$f" || exit 1; done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
