# prepare_data: one dataset's images → train/validation/test TFRecords + manifest.
from tfedge.config import canonical, check_folders
from tfedge.data.fingerprint import image_folders, images_fingerprint

# A missing image folder is a config error before any job runs. Only where jobs are
# planned: a remote job (SLURM, Kubernetes) reads the workflow again where the folder need
# not be mounted; prepare_data itself needs it at the same path.
if not workflow.remote_exec:
    check_folders(config, CONFIG_SOURCE)


rule prepare_data:
    input:
        # A source-directory dataset's folder, local: a default storage provider (S3)
        # never stages it. Snakemake itself sees only the folder's own mtime, so the
        # `images` param (path, size and mtime of every file) is what catches an image
        # added, removed or replaced inside a class sub-folder.
        folder=lambda wildcards: [
            local(folder) for folder in image_folders(DATASETS[wildcards.dataset])
        ],
    output:
        train=paths.tfrecord("{dataset}", "train"),
        validation=paths.tfrecord("{dataset}", "validation"),
        test=paths.tfrecord("{dataset}", "test"),
        manifest=paths.manifest("{dataset}"),
    log:
        paths.log("prepare_data", "{dataset}"),
    benchmark:
        paths.job_benchmark("prepare_data", "{dataset}")
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        settings=lambda wildcards: canonical(DATASETS[wildcards.dataset]),
        images=lambda wildcards: images_fingerprint(DATASETS[wildcards.dataset]),
    script:
        "../scripts/prepare_data.py"
