"""Snakemake adapter: rule architectures → tfedge.architectures.measure_all."""

from tfedge.logs import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    from tfedge.architectures import measure_all
    from tfedge.files import write_json
    from tfedge.keras_env import use_threads

    use_threads(smk.threads)
    settings = smk.params.settings
    results = measure_all(settings["models"], settings["repeats"], settings["warmup"], smk.threads)
    write_json(smk.output[0], {"threads": smk.threads, "models": results})
