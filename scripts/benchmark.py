"""Snakemake adapter: rules benchmark, benchmark_tensorrt → tfedge.bench.benchmark."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.bench import benchmark

    benchmark(
        converted=list(smk.input.converted),
        output_paths=list(smk.output),
        manifest_path=smk.input.manifest,
        reference_predictions=smk.input.reference,
        settings=smk.params.settings,
        threads=smk.threads,
    )
