# make report: set up .venv on first use, then run the whole workflow.
# make test:   the same set-up, then the test suite.
VENV ?= .venv
CORES ?= 1
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: report test lint format dry-run clean

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) report

test: $(STAMP)
	$(BIN)/pytest

dry-run: $(STAMP)
	$(BIN)/snakemake -n report

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests
	$(BIN)/ruff format --check src scripts tests
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

format: $(STAMP)
	$(BIN)/ruff format src scripts tests
	$(BIN)/snakefmt Snakefile rules

# Reinstalled whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf results .snakemake
