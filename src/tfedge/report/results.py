"""The report's inputs, by the names the rule gives them, read once and shared by the sections.

The report rule names every file it reads (tfedge.paths.report_inputs): ``metrics/cnn/0``,
``benchmarks/cnn/onnx``, ``job_times/train/cnn/seed0``, … Snakemake hands the script the same
names with the files it staged, so nothing is paired by position and a section asks for a file
by what it is. Loading is lazy: a section that is left out reads nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tfedge import paths
from tfedge.config.helpers import baselines
from tfedge.files import read_json
from tfedge.report.runs import Run


@dataclass
class Results:
    """The validated config and the report's named inputs (name → staged file)."""

    config: dict
    inputs: dict[str, str]
    answers_path: str = ""
    _memo: dict = field(default_factory=dict, repr=False)

    def path(self, kind: str, *key: object) -> str:
        """The staged file of one input, e.g. ``path("metrics", "cnn", 0)``."""
        return self.inputs[paths.input_name(kind, *key)]

    def keys(self, kind: str) -> list[tuple[str, ...]]:
        """The keys of every input of one kind, in the rule's order."""
        prefix = kind + "/"
        return [
            tuple(name[len(prefix) :].split("/")) for name in self.inputs if name.startswith(prefix)
        ]

    def once(self, key: str, compute):
        """``compute(self)`` the first time ``key`` is asked for; sections share the result."""
        if key not in self._memo:
            self._memo[key] = compute(self)
        return self._memo[key]

    @property
    def variants(self) -> dict:
        return self.config["variants"]

    @property
    def seeds(self) -> list[int]:
        return self.config["seeds"]

    @property
    def alpha(self) -> float:
        return self.config["report"]["significance_level"]

    @functools.cached_property
    def baselines(self) -> dict[str, str]:
        return baselines(self.config)

    @functools.cached_property
    def manifests(self) -> dict[str, dict]:
        return {
            dataset: read_json(self.path("manifests", dataset))
            for (dataset,) in self.keys("manifests")
        }

    def class_names(self, variant: str) -> list[str]:
        return self.manifests[self.variants[variant]["dataset"]]["class_names"]

    @functools.cached_property
    def runs(self) -> dict[str, list[Run]]:
        """Every variant's runs, one per seed, in seed order."""
        return {name: [self._run(name, seed) for seed in self.seeds] for name in self.variants}

    def _run(self, variant: str, seed: int) -> Run:
        with np.load(self.path("predictions", variant, seed)) as archive:
            predictions = {name: archive[name] for name in archive.files}
        return Run(
            variant=variant,
            seed=seed,
            summary=read_json(self.path("summaries", variant, seed)),
            metrics=read_json(self.path("metrics", variant, seed)),
            history=pd.read_csv(self.path("histories", variant, seed)),
            predictions=predictions,
        )
