"""Snakemake adapter: rule download_data → tfedge.data.download.fetch_dataset."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.data.download import fetch_dataset
    from tfedge.files import write_json

    record = fetch_dataset(smk.wildcards.dataset, smk.params.settings, smk.output.tfds)
    write_json(smk.output.record, record)
