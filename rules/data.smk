rule prepare_data:
    output:
        train=paths.tfrecord("{dataset}", "train"),
        validation=paths.tfrecord("{dataset}", "validation"),
        test=paths.tfrecord("{dataset}", "test"),
        manifest=paths.manifest("{dataset}"),
    log:
        paths.log("prepare_data", "{dataset}"),
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        settings=lambda wildcards: DATASETS[wildcards.dataset],
    script:
        "../scripts/prepare_data.py"
