"""Snakemake adapter: rule convert → tfedge.convert.convert."""

from tfedge.logs import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    from tfedge.convert import convert
    from tfedge.keras_env import use_threads

    use_threads(smk.threads)
    convert(
        variant=smk.wildcards.variant,
        fmt=smk.wildcards.format,
        source=smk.input.source,
        output_dir=smk.output[0],
        settings=smk.params.settings,
        manifest=smk.input.manifest,
    )
