"""Snakemake adapter: rule convert → tfedge.convert.convert."""

from tfedge.logs import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0], threads=smk.threads):
    from tfedge.convert import convert

    convert(
        variant=smk.wildcards.variant,
        fmt=smk.wildcards.format,
        source=smk.input.source,
        output_dir=smk.output[0],
        settings=smk.params.settings,
        manifest=smk.input.manifest,
    )
