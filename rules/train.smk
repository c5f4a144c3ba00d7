rule train:
    input:
        unpack(dataset_inputs("train", "validation")),
        unpack(init_from_inputs),
        unpack(backbone_download_inputs),
    output:
        model=paths.model_file("{variant}", "{seed}", "model.keras"),
        savedmodel=directory(paths.model_file("{variant}", "{seed}", "savedmodel")),
        history=paths.model_file("{variant}", "{seed}", "history.csv"),
        summary=paths.model_file("{variant}", "{seed}", "train.json"),
        tensorboard=directory(paths.model_file("{variant}", "{seed}", "tensorboard")),
        job=paths.job_record("train", "{variant}", "seed{seed}"),
    log:
        paths.log("train", "{variant}", "seed{seed}"),
    benchmark:
        paths.job_benchmark("train", "{variant}", "seed{seed}")
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=train_memory,
        runtime=240,
    params:
        code=library_code("train.py"),
        variant=variant_settings,
        backbone=backbone_settings,
        work_dir=lambda wildcards: paths.train_work_dir(
            wildcards.variant, wildcards.seed
        ),
    script:
        "../scripts/train.py"
