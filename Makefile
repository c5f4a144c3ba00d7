# make report: set up .venv on first use, then run the whole workflow on every core
# (profiles/default; CORES=1 for one).
# make test:   the same set-up, then the test suite.
# make report CONFIG=my.yaml: run my.yaml alone, in place of config.yaml (checked first).
# make report FORCERUN=results/…: remake that output and everything made from it (the fix a
#                  job prints when it finds a damaged input).
# make downloads: only the download jobs (TFDS data sets, TF Hub modules), e.g. on a login node.
# make sweeps: the fine-tuning depth and batch-size curves (config.sweeps.yaml → results/sweeps.html).
VENV ?= .venv
CORES ?=
CONFIG ?=
FORCERUN ?=
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

FASHION_MNIST := /usr/share/datasets/fashion-mnist
# A --configfile replaces config.yaml (the Snakefile decides). The target goes before
# --configfile, which takes several values and would swallow it.
OWN_CONFIG := $(if $(CONFIG),--configfile $(CONFIG))
OWN_FORCERUN := $(if $(FORCERUN),--forcerun $(FORCERUN))
CHECK_CONFIG := $(if $(CONFIG),$(BIN)/python -m tfedge.config_files $(CONFIG) &&)
.PHONY: report downloads sweeps test test-quick test-slow test-cluster lint format docs dry-run clean system-data

report: $(STAMP) system-data
	$(CHECK_CONFIG) $(BIN)/snakemake $(if $(CORES),--cores $(CORES)) report $(OWN_FORCERUN) $(OWN_CONFIG)

downloads: $(STAMP)
	$(CHECK_CONFIG) $(BIN)/snakemake --cores 1 downloads $(OWN_FORCERUN) $(OWN_CONFIG)

sweeps:
	$(MAKE) --no-print-directory report CONFIG=config.sweeps.yaml

# make test runs the quick tests (pytest -m "not slow", the loop while editing), then the slow
# ones (whole workflow runs); each stops at its first failing stage.
test: test-quick test-slow

test-quick: $(STAMP) system-data
	$(BIN)/pytest -m "not slow"

test-slow: $(STAMP) system-data
	$(BIN)/pytest -m "slow and not cluster"

# The end-to-end runs on real infrastructure started here: a single-node SLURM (as root, from
# Debian's packages, through profiles/slurm/local_cluster.sh) and an S3 server.
test-cluster: $(STAMP) system-data
	$(BIN)/pytest -m cluster

dry-run: $(STAMP)
	$(CHECK_CONFIG) $(BIN)/snakemake -n report $(OWN_CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests benchmarks
	$(BIN)/ruff format --check src scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint
	$(BIN)/hadolint docker/Dockerfile docker/Dockerfile.gpu docker/Dockerfile.jetson

# The README's config reference, from schemas/config.schema.yaml.
docs: $(STAMP)
	$(BIN)/python -m tfedge.config_reference

format: $(STAMP)
	$(BIN)/ruff format src scripts tests benchmarks
	$(BIN)/snakefmt Snakefile rules

# Reinstalled whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Type stubs only: its dependency "tensorrt" is a placeholder that downloads from NVIDIA.
	$(BIN)/python -m pip install --quiet --no-deps 'tensorrt-stubs==10.13.0.35.1'
	$(MAKE) --no-print-directory system-data
	touch $@

# Debian packages: Fashion-MNIST (the offline stand-in for tf_flowers) and Chromium (the
# report's browser test). Installed where apt works; elsewhere a note says what to install.
system-data:
	@missing=; [ -d $(FASHION_MNIST) ] || missing="dataset-fashion-mnist"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "note: run 'sudo apt-get install $$missing' (offline flowers data, browser test)"; exit 0; fi; \
	if command -v apt-get >/dev/null; then \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null \
	  || echo "note: apt-get could not install $$missing"; \
	fi

clean:
	rm -rf results .snakemake
