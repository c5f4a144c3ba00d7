"""Snakemake adapter: rule convert → tfedge.convert.convert."""

from tfedge.logs import job_log

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job_log(smk.log[0]):
    from tfedge.convert import convert
    from tfedge.keras_env import use_threads

    use_threads(smk.threads)
    inputs = {"manifest": smk.input.manifest}
    if hasattr(smk.input, "onnx_record"):
        inputs["onnx_record"] = smk.input.onnx_record
    convert(
        variant=smk.wildcards.variant,
        fmt=smk.wildcards.format,
        savedmodel=smk.input.savedmodel,
        record_path=smk.output[0],
        settings=smk.params.settings,
        inputs=inputs,
    )
