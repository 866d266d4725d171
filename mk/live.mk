# Live mode (SPEC §6, sim/live/README.md): the model as real processes.
# sim/live/*.c are archived into libsyncsim.a (an extra prerequisite of its
# rule, whose recipe archives $^), so build/syncsim links them through
# cli/live.c with no change to the main Makefile.
LIVE_SRC = $(sort $(wildcard sim/live/*.c))
LIVE_OBJ = $(LIVE_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/libsyncsim.a: $(LIVE_OBJ)

.PHONY: test-live
# Real processes on 127.0.0.1, killed with SIGKILL, time moved by libfaketime.
# Last line: `live: N passed, N failed`.
test-live: all
	@BUILD=$(BUILD) bash sim/live/tests/run.sh
