"""Snakemake adapter: rule download_backbone → tfedge.models.download.fetch_backbone."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.files import write_json
    from tfedge.models.download import fetch_backbone

    record = fetch_backbone(
        smk.wildcards.backbone, smk.params.settings, smk.params.image_sizes, smk.output.files
    )
    write_json(smk.output.record, record)
