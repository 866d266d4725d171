# Reports and shrinking (issue 6): `make report` renders a swarm report with
# failure pages into $(REPORT) (default reports/out) and prints its path.
.PHONY: report report-test
REPORT ?= reports/out
report: all
	@mkdir -p $(REPORT)
	@$(BUILD)/syncsim swarm --seeds $${SEEDS:-200} -j $${JOBS:-2} --report $(REPORT) >/dev/null; \
	 $(BUILD)/syncsim report swarm $(REPORT)

report-test: all
	@BUILD=$(BUILD) bash tools/tests.d/report.sh
