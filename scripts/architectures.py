"""Snakemake adapter: rule architectures → tfedge.architectures.measure_all."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.architectures import measure_all
    from tfedge.files import write_json

    settings = smk.params.settings
    results = measure_all(settings["models"], settings["repeats"], settings["warmup"])
    write_json(smk.output.measurements, {"threads": smk.threads, "models": results})
