"""Snakemake adapter: rule prepare_data → tfedge.data.prepare.prepare_dataset."""

from tfedge.logs import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    from tfedge.data.prepare import prepare_dataset
    from tfedge.keras_env import use_threads

    use_threads(smk.threads)

    prepare_dataset(smk.wildcards.dataset, smk.params.settings, dict(smk.output.items()))
