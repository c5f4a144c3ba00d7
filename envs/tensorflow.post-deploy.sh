#!/usr/bin/env bash
# Snakemake runs this once, inside the new environment, from its working directory: the
# tfedge checkout. The dependencies are already in the environment, so --no-deps.
set -euo pipefail
if [ ! -f pyproject.toml ] || [ ! -d src/tfedge ]; then
  echo "run snakemake from the tfedge checkout (the folder with pyproject.toml)" >&2
  exit 1
fi
python -m pip install --no-deps --editable .
