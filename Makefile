# Two commands on a fresh machine:  make demo  (set up, run the pipeline on the embedded demo)
#                                   make test  (set up, run the tests)
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
CORES   ?= 2

.PHONY: setup demo report dvc-lock test bench clean-results

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --workflow-profile workflow/profiles/default --cores $(CORES) results/figures

# One self-contained HTML page of a finished study: every figure and table, report.md's text, per-job costs
# (the description page is a Snakemake-only job, report_page, run first).
report: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores 1 report_page
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --report results/report.html results/figures

# Record the demo's outputs, made by Snakemake with the stages' own commands, in the dvc.lock files (the
# root's and those under pipelines/) and the DVC cache (then `dvc push`); `dvc repro` would make the same
# files one stage at a time.
# dvc commit re-links (copies) the outputs it caches, in no particular order, so an input can end up newer
# than its dependants: --touch then restores their order for Snakemake without running anything.
dvc-lock: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc commit --force --quiet
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores 1 --touch results/figures --quiet

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q --durations=15  # the slowest tests in the log: the suite must stay under 20 min

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run_all.py

clean-results:
	rm -rf results .snakemake
