rule prepare_data:
    output:
        train=paths.tfrecord("{dataset}", "train"),
        validation=paths.tfrecord("{dataset}", "validation"),
        test=paths.tfrecord("{dataset}", "test"),
        manifest=paths.manifest("{dataset}"),
    log:
        paths.log("prepare_data", "{dataset}"),
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        settings=lambda wildcards: DATASETS[wildcards.dataset],
    script:
        "../scripts/prepare_data.py"
