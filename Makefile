# syncsim — see README.md. Targets: all test run bench fuzz report asan deps clean
BUILD ?= build
CC    ?= gcc
OPT   ?= -O2 -g
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Imodel -Isim -Icli
CFLAGS ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(OPT) $(CFLAGS) -MMD -MP
LDLIBS = -lsqlite3 -lm

MODEL_SRC = $(sort $(wildcard model/*.c))
SIM_SRC   = $(sort $(wildcard sim/*.c))
CLI_SRC   = $(sort $(wildcard cli/*.c))
CLI_OBJ   = $(CLI_SRC:%.c=$(BUILD)/%.o)
MODEL_OBJ = $(MODEL_SRC:%.c=$(BUILD)/%.o)
SIM_OBJ   = $(SIM_SRC:%.c=$(BUILD)/%.o)
TEST_SRC  = $(sort $(wildcard model/tests/test_*.c sim/tests/test_*.c))
TEST_BIN  = $(TEST_SRC:%.c=$(BUILD)/%)

.PHONY: all test unit asan deps clean run tests-bin
all: $(BUILD)/libsyncmodel.a $(BUILD)/libsyncsim.a $(BUILD)/syncsim

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libsyncmodel.a: $(MODEL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libsyncsim.a: $(SIM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/syncsim: $(CLI_OBJ) $(BUILD)/libsyncsim.a $(BUILD)/libsyncmodel.a
	$(CC) $(OPT) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/model/tests/%: model/tests/%.c $(BUILD)/libsyncsim.a $(BUILD)/libsyncmodel.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsyncsim.a $(BUILD)/libsyncmodel.a $(LDLIBS) -lcmocka

$(BUILD)/sim/tests/%: sim/tests/%.c $(BUILD)/libsyncsim.a $(BUILD)/libsyncmodel.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsyncsim.a $(BUILD)/libsyncmodel.a $(LDLIBS) -lcmocka

tests-bin: all $(TEST_BIN)

# Installs what the build and tests need on a bare Debian 12 (as root).
deps:
	@tools/deps.sh

# The README test command: unit tests, scenarios, swarm, determinism.
test: deps
	@$(MAKE) --no-print-directory tests-bin
	@BUILD=$(BUILD) tools/run-tests.sh

unit: tests-bin
	@BUILD=$(BUILD) UNIT_ONLY=1 tools/run-tests.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" tests-bin
	@BUILD=build/asan ASAN=1 tools/run-tests.sh

clean:
	rm -rf build reports/out

# Feature makefiles (fuzz, live, report, bench): each adds its own targets.
-include $(sort $(wildcard mk/*.mk))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The main job: the scenario suite and a swarm, with a report.
REPORT ?= reports/out
SEEDS ?= 500
JOBS ?= 2
run: deps all
	@mkdir -p $(REPORT)
	@$(BUILD)/syncsim scenario scenarios/*.scn --junit $(REPORT)/scenarios.junit.xml --report $(REPORT); s=$$?; \
	 $(BUILD)/syncsim swarm --seeds $(SEEDS) -j $(JOBS) --report $(REPORT); w=$$?; \
	 echo; echo "report: $(REPORT)/swarm.html (swarm), $(REPORT)/scenarios.json, $(REPORT)/scenarios.junit.xml"; \
	 [ $$s = 0 ] && [ $$w = 0 ]
