"""Snakemake adapter: rule prepare_data → tfedge.data.prepare.prepare_dataset."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.data.prepare import prepare_dataset

    prepare_dataset(smk.wildcards.dataset, smk.params.settings, dict(smk.output.items()))
