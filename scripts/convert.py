"""Snakemake adapter: rule convert → tfedge.convert.convert."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.convert import convert

    convert(
        variant=smk.wildcards.variant,
        fmt=smk.wildcards.format,
        source=smk.input.source,
        output_dir=smk.output.folder,
        settings=smk.params.settings,
        manifest=smk.input.manifest,
    )
