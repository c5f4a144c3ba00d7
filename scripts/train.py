"""Snakemake adapter: rule train → tfedge.train.job.train_variant."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

# The memory cap is read when TensorFlow starts, so it is set here, where the attempt
# processes tfedge.train.supervision starts inherit it.
with job(smk, memory_mb=smk.params.variant["memory_limit_mb"]):
    from dataclasses import fields

    from tfedge.train.job import TrainOutputs, train_variant
    from tfedge.train.protocol import FetchedBackbone, InitFrom

    init_from = fetched_backbone = None
    if hasattr(smk.input, "init_model"):
        init_from = InitFrom(model=smk.input.init_model, summary=smk.input.init_summary)
    if hasattr(smk.input, "backbone_record"):
        fetched_backbone = FetchedBackbone(smk.input.backbone_record, smk.input.backbone_files)

    train_variant(
        name=smk.wildcards.variant,
        variant=smk.params.variant,
        seed=int(smk.wildcards.seed),
        manifest_path=smk.input.manifest,
        outputs=TrainOutputs(
            **{output.name: getattr(smk.output, output.name) for output in fields(TrainOutputs)}
        ),
        work_dir=smk.params.work_dir,
        threads=smk.threads,
        backbone_settings=smk.params.backbone,
        init_from=init_from,
        fetched_backbone=fetched_backbone,
    )
