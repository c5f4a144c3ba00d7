# tfedge: train → evaluate → convert → benchmark → report for TensorFlow image classifiers.
# The experiment lives in config.yaml; the rules live in rules/.
from pathlib import Path

from snakemake.utils import min_version

from tfedge.config_files import read_config_file

min_version("9.0")  # pyproject.toml asks for snakemake 9

# `snakemake --report report.html`: Snakemake's page of this run, with tfedge's results in it.


report: "report/workflow.rst"


# A --configfile replaces config.yaml. Snakemake would merge it over config.yaml unless given
# --replace-workflow-config, and cluster jobs get the file without that flag, so the choice is
# made here, the same in every process: to add to the shipped experiment, name both files
# (--configfile config.yaml my.yaml).
if not workflow.overwrite_configfiles:
    # Snakemake's own message for a YAML syntax error names no line; this one does.
    read_config_file("config.yaml")

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/download.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/convert.smk"
include: "rules/benchmark.smk"
include: "rules/architectures.smk"
include: "rules/report.smk"
include: "rules/damage.smk"


# The report reads the checkout's template and answers, so it runs where Snakemake runs,
# even when the other jobs go to a cluster.
localrules:
    all,
    report,


# The deliverables: the report and every converted model (the folders a deployment copies).
rule all:
    default_target: True
    input:
        paths.report(config["report"]["file"]),
        every_conversion(paths.converted_dir),
