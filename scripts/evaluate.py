"""Snakemake adapter: rule evaluate → tfedge.evaluate.evaluate_model."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.evaluate import evaluate_model

    evaluate_model(
        savedmodel=smk.input.savedmodel,
        manifest_path=smk.input.manifest,
        metrics_path=smk.output.metrics,
        predictions_path=smk.output.predictions,
        keep_misclassified=smk.params.keep_misclassified,
        context={"variant": smk.wildcards.variant, "seed": int(smk.wildcards.seed)},
    )
