"""tfedge: train, evaluate, convert, benchmark and report TensorFlow image classifiers.

Importing this package is cheap on purpose: Snakemake imports ``tfedge.config`` while it
parses the workflow, so nothing here may import TensorFlow. Modules that need it import
``tfedge.keras_env`` first.
"""

__version__ = "0.1.0"
