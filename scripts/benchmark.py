"""Snakemake adapter: rule benchmark → tfedge.bench.benchmark."""

from tfedge.logs import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0], threads=smk.threads):
    from tfedge.bench import benchmark

    benchmark(
        converted=smk.input.converted,
        manifest_path=smk.input.manifest,
        reference_predictions=smk.input.reference,
        settings=smk.params.settings,
        output_path=smk.output[0],
        threads=smk.threads,
    )
