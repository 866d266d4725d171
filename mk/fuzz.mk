# fuzz.mk — AFL++ harnesses (SPEC §5, fuzz/README.md). Included by the Makefile.
#
#   make fuzz          build/fuzz/NAME.afl (afl-clang-fast, persistent mode),
#                      build/fuzz/NAME.cmplog (CMPLOG variant) and
#                      build/fuzz/NAME.replay (gcc + ASan + UBSan) for every harness
#   make fuzz-replay   only the replay binaries (what CI needs; no afl++ required)
#
# The AFL builds compile the model/ and sim/ sources themselves with
# afl-clang-fast (instrumented), never the gcc libraries; each variant has
# its own object directory and archive.

FUZZ_NAMES  ?= coordinator scenario wire server
FUZZ_DIR     = $(BUILD)/fuzz
AFL_CC      ?= afl-clang-fast
FUZZ_SRC     = $(MODEL_SRC) $(SIM_SRC)
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Imodel -Isim -Ifuzz -MMD -MP
FUZZ_ASAN    = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_AFLOPT  = -O2 -g

FUZZ_AFL     = $(FUZZ_NAMES:%=$(FUZZ_DIR)/%.afl)
FUZZ_CMPLOG  = $(FUZZ_NAMES:%=$(FUZZ_DIR)/%.cmplog)
FUZZ_REPLAY  = $(FUZZ_NAMES:%=$(FUZZ_DIR)/%.replay)

.PHONY: fuzz fuzz-replay fuzz-deps
fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_AFL) $(FUZZ_CMPLOG) $(FUZZ_REPLAY)

fuzz-replay: $(FUZZ_REPLAY)

# afl++ from Debian when missing (root only; afl-gcc-fast of Debian 12 is
# broken, so everything goes through the clang wrappers).
fuzz-deps:
	@if ! command -v $(AFL_CC) >/dev/null 2>&1; then \
	   if [ "$$(id -u)" = 0 ]; then \
	     echo "fuzz: installing afl++"; \
	     DEBIAN_FRONTEND=noninteractive apt-get install -y -q afl++ clang >/dev/null || \
	       { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q afl++ clang >/dev/null; }; \
	   else echo "fuzz: $(AFL_CC) missing; run as root or: apt-get install afl++" >&2; exit 1; fi; \
	 fi

# ---- replay: gcc + ASan + UBSan ----
$(FUZZ_DIR)/obj-asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CFLAGS) $(FUZZ_ASAN) -c $< -o $@

$(FUZZ_DIR)/libfz-asan.a: $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj-asan/%.o)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/%.replay: $(FUZZ_DIR)/obj-asan/fuzz/%.o $(FUZZ_DIR)/libfz-asan.a
	$(CC) $(FUZZ_ASAN) -o $@ $^ -lsqlite3 -lm

# ---- AFL: afl-clang-fast, persistent mode ----
$(FUZZ_DIR)/obj-afl/%.o: %.c
	@mkdir -p $(dir $@)
	AFL_QUIET=1 $(AFL_CC) $(FUZZ_CFLAGS) $(FUZZ_AFLOPT) -c $< -o $@

$(FUZZ_DIR)/libfz-afl.a: $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj-afl/%.o)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/%.afl: $(FUZZ_DIR)/obj-afl/fuzz/%.o $(FUZZ_DIR)/libfz-afl.a
	AFL_QUIET=1 $(AFL_CC) $(FUZZ_AFLOPT) -o $@ $^ -lsqlite3 -lm

# ---- CMPLOG variant (afl-fuzz -c): comparison operands logged ----
$(FUZZ_DIR)/obj-cmplog/%.o: %.c
	@mkdir -p $(dir $@)
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(FUZZ_CFLAGS) $(FUZZ_AFLOPT) -c $< -o $@

$(FUZZ_DIR)/libfz-cmplog.a: $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj-cmplog/%.o)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/%.cmplog: $(FUZZ_DIR)/obj-cmplog/fuzz/%.o $(FUZZ_DIR)/libfz-cmplog.a
	AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC) $(FUZZ_AFLOPT) -o $@ $^ -lsqlite3 -lm

.PRECIOUS: $(FUZZ_DIR)/obj-asan/%.o $(FUZZ_DIR)/obj-afl/%.o $(FUZZ_DIR)/obj-cmplog/%.o
