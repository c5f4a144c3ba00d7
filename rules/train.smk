def init_from_inputs(wildcards):
    """A fine-tuning variant starts from its init_from variant's finished run (same seed)."""
    parent = VARIANTS[wildcards.variant].get("init_from")
    if parent is None:
        return {}
    return {
        "init_model": paths.model_file(parent, wildcards.seed, "model.keras"),
        "init_summary": paths.model_file(parent, wildcards.seed, "train.json"),
    }


def backbone_settings(wildcards):
    name = VARIANTS[wildcards.variant].get("backbone")
    return config["backbones"][name] if name else None


rule train:
    input:
        unpack(dataset_inputs("train", "validation")),
        unpack(init_from_inputs),
    output:
        model=paths.model_file("{variant}", "{seed}", "model.keras"),
        savedmodel=directory(paths.model_file("{variant}", "{seed}", "savedmodel")),
        history=paths.model_file("{variant}", "{seed}", "history.csv"),
        summary=paths.model_file("{variant}", "{seed}", "train.json"),
        tensorboard=directory(paths.model_file("{variant}", "{seed}", "tensorboard")),
    log:
        paths.log("train", "{variant}", "seed{seed}"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        variant=lambda wildcards: VARIANTS[wildcards.variant],
        backbone=backbone_settings,
        work_dir=lambda wildcards: paths.train_work_dir(
            wildcards.variant, wildcards.seed
        ),
    script:
        "../scripts/train.py"
