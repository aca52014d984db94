# retool: one entry point. `make` builds, `make test` installs test deps + builds + runs every unit test,
# `make asan` runs the tests under AddressSanitizer + UBSan, `make check-long` the slow end-to-end checks,
# `make bench` the benchmarks, `make demo` the default demo. See README.md.

CC      ?= cc
BUILD   ?= build
SAN     ?=
PKGS    := libcjson libpcre2-8 libseccomp libmicrohttpd ompi-c libcurl libutf8proc gmp libzstd zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -fno-strict-aliasing -pthread -Isrc $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lsnappy -ldnnl -lm -pthread
ifneq ($(SAN),)
# The sanitizer build checks behaviour at run time; gcc's -Wformat-truncation guesses differently at -O1 than at the
# -O2 of the normal build (which keeps it as an error), so it is not repeated here.
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wno-format-truncation
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC   := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*' ! -path 'src/sandbox/zygote/*'))
CLI_SRC   := $(sort $(filter-out src/cli/main.c,$(wildcard src/cli/*.c)))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libretool.a
CLI_LIB   := $(BUILD)/libretool-cli.a
BIN       := $(BUILD)/retool
TEST_DIRS := $(filter-out fuzz,$(sort $(patsubst tests/%/,%,$(dir $(wildcard tests/*/*.c)))))
TEST_BINS := $(TEST_DIRS:%=$(BUILD)/tests/test_%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# Objects named here are not intermediate files: make neither deletes them nor skips a missing one.
TEST_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/*/*.c))
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all test test-run asan check-long bench demo deps deps-test clean format fixtures
all: $(BIN) $(LIB)

# V=1 shows full command lines.
Q := $(if $(V),,@)

objects: $(LIB_OBJ) $(CLI_OBJ) $(TEST_OBJ) $(BENCH_OBJ)
.PHONY: objects

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The sandbox worker's zygote: a shared object loaded by each worker's Python (never sanitized: it runs inside
# /usr/bin/python3), embedded into the library by sbx_zygote_blob.c.
ZYGOTE_SO  := $(BUILD)/zygote/sbx_zygote.so
ZYGOTE_SRC := $(sort $(wildcard src/sandbox/zygote/*.c)) src/sandbox/sbx_proto.c src/sandbox/sbx_base64.c \
              src/sandbox/sbx_names.c
$(ZYGOTE_SO): $(ZYGOTE_SRC) $(wildcard src/sandbox/zygote/*.h) src/sandbox/sbx_internal.h
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $@")
	$(Q)$(CC) $(OPT) -g -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC -shared -Isrc $(PKG_CFLAGS) \
		-o $@ $(ZYGOTE_SRC) -lcjson
$(BUILD)/obj/src/sandbox/sbx_zygote_blob.o: $(ZYGOTE_SO)
$(BUILD)/obj/src/sandbox/sbx_zygote_blob.o: CFLAGS += -DSBX_ZYGOTE_SO='"$(ZYGOTE_SO)"'

# The dashboard's page, embedded into the library by dash_assets.c (.incbin: the compiler cannot see the dependency).
$(BUILD)/obj/src/serve/dash_assets.o: $(wildcard src/serve/dash/*)

# Test fixtures: tests/fixtures/**/*.gz unpacked into $(BUILD)/fixtures/ (see tests/fixtures/tokenizers/NOTICE).
# Tests and benchmarks read them through RETOOL_FIXTURES, a path relative to the repository root they run from.
FIXTURES     := $(BUILD)/fixtures
FIXTURE_GZ   := $(sort $(shell find tests/fixtures -name '*.gz'))
FIXTURE_FILES := $(FIXTURE_GZ:tests/fixtures/%.gz=$(FIXTURES)/%)
fixtures: $(FIXTURE_FILES)
$(FIXTURES)/%: tests/fixtures/%.gz
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  GUNZIP  $@")
	$(Q)gzip -dc $< > $@.tmp.$$$$ && mv $@.tmp.$$$$ $@
$(TEST_OBJ) $(BENCH_OBJ): CFLAGS += -DRETOOL_FIXTURES='"$(FIXTURES)"'

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(CLI_LIB): $(CLI_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(BUILD)/obj/src/cli/main.o $(CLI_LIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(CLI_LIB) $(LIB) $(LDLIBS)
	@[ "$(BUILD)" != build ] || ln -sf build/retool retool

# One Criterion binary per folder under tests/ (tests/base -> build/tests/test_base).
test_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/$(1)/*.c))
.SECONDEXPANSION:
$(BUILD)/tests/test_%: $$(call test_objs,$$*) $(CLI_LIB) $(LIB) | $(FIXTURE_FILES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CLI_LIB) $(LIB) $(LDLIBS) -lcriterion

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB) | $(FIXTURE_FILES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

deps:
	@bash scripts/install-deps.sh
deps-test:
	@bash scripts/install-deps.sh --test

# Runs every test binary; each prints Criterion's Synthesis line. RETOOL_BIN lets tests run the CLI.
test-run: $(BIN) $(TEST_BINS) $(FIXTURE_FILES)
	@bash scripts/check-layers.sh
	@bash scripts/run-tests.sh $(BUILD) $(TEST_BINS)

test: deps-test
	@$(MAKE) --no-print-directory -j2 test-run

asan: deps-test
	@$(MAKE) --no-print-directory -j2 BUILD=build-asan SAN=1 OPT=-O1 test-run

check-long:
	@bash scripts/install-deps.sh --long
	@$(MAKE) --no-print-directory -j2 all
	@bash scripts/check-long.sh

bench: deps-test $(BIN) $(BENCH_BINS) $(FIXTURE_FILES)
	@bash scripts/run-benches.sh $(BUILD) $(BENCH_BINS)

demo: deps
	@$(MAKE) --no-print-directory -j2 all
	./$(BIN) demo

clean:
	rm -rf build build-asan build-clang retool

format:
	clang-format -i $(LIB_SRC) $(ZYGOTE_SRC) $(CLI_SRC) src/cli/main.c $(wildcard src/*/*.h src/sandbox/zygote/*.h) \
		$(wildcard tests/*/*.c) $(BENCH_SRC)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
