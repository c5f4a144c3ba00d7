"""Snakemake adapter: rules benchmark, benchmark_tensorrt → tfedge.bench.benchmark."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.bench import benchmark

    # Inputs converted/<format>; outputs named by format (benchmark) or, for the one format
    # of a benchmark_tensorrt job, `bench`.
    converted = {
        name.removeprefix("converted/"): folder
        for name, folder in smk.input.items()
        if name.startswith("converted/")
    }
    outputs = {fmt: getattr(smk.output, fmt, None) or smk.output.bench for fmt in converted}
    benchmark(
        converted=converted,
        outputs=outputs,
        manifest_path=smk.input.manifest,
        reference_predictions=smk.input.reference,
        settings=smk.params.settings,
        threads=smk.threads,
    )
