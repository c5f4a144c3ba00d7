"""Snakemake adapter: rule prepare_data → tfedge.data.prepare.prepare_dataset."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from pathlib import Path

    from tfedge.data.prepare import prepare_dataset
    from tfedge.data.sources import Fetched
    from tfedge.files import read_json

    fetched = None
    if hasattr(smk.input, "download"):
        fetched = Fetched(read_json(smk.input.download), Path(smk.input.tfds))
    prepare_dataset(smk.wildcards.dataset, smk.params.settings, dict(smk.output.items()), fetched)
