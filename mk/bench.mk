# bench.mk — `make bench` (figures of issue 9) and `make mutants` (planted
# bugs). Included by the Makefile (-include mk/*.mk).
.PHONY: bench mutants

$(BUILD)/bench: bench/bench.c $(BUILD)/libsyncsim.a $(BUILD)/libsyncmodel.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsyncsim.a $(BUILD)/libsyncmodel.a $(LDLIBS)

# Prints `bench NAME=VALUE min=… max=…` lines; writes reports/out/bench.json.
bench: deps all $(BUILD)/bench
	@BUILD=$(BUILD) bench/run.sh

# Applies each tools/mutants/*.patch to a temporary copy of the tree; final
# line `mutants caught=K total=N`. MUTANT_BUDGET=60 (seconds of swarm each).
mutants:
	@tools/mutants/run
