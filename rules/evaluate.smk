rule evaluate:
    input:
        unpack(dataset_inputs("test")),
        savedmodel=paths.model_file("{variant}", "{seed}", "savedmodel"),
        # Its record: what the SavedModel's files must hold, checked before it is loaded.
        summary=paths.model_file("{variant}", "{seed}", "train.json"),
    output:
        metrics=paths.metrics("{variant}", "{seed}"),
        predictions=paths.predictions("{variant}", "{seed}"),
        job=paths.job_record("evaluate", "{variant}", "seed{seed}"),
    log:
        paths.log("evaluate", "{variant}", "seed{seed}"),
    benchmark:
        paths.job_benchmark("evaluate", "{variant}", "seed{seed}")
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=library_code("evaluate.py"),
        keep_misclassified=config["report"]["misclassified_images"],
    script:
        "../scripts/evaluate.py"
