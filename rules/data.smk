# prepare_data: one dataset's images → train/validation/test TFRecords + manifest.
from tfedge.config.folders import check_folders
from tfedge.config.helpers import canonical
from tfedge.data.fingerprint import image_folders

# A missing image folder is a config error before any job runs. Only where jobs are
# planned: a remote job (SLURM, Kubernetes) reads the workflow again where the folder need
# not be mounted; prepare_data itself needs it at the same path.
if not workflow.remote_exec:
    check_folders(config, CONFIG_SOURCE)


rule prepare_data:
    input:
        # What the download job fetched (source tfds or auto).
        unpack(dataset_download_inputs),
        # A source-directory dataset's folder, local: a default storage provider (S3)
        # never stages it. Its own mtime changes with any file (a .DS_Store), so it is
        # ancient: the `images` param, over the images the loader reads, decides.
        folder=lambda wildcards: [
            ancient(local(folder))
            for folder in image_folders(DATASETS[wildcards.dataset])
        ],
    output:
        train=paths.tfrecord("{dataset}", "train"),
        validation=paths.tfrecord("{dataset}", "validation"),
        test=paths.tfrecord("{dataset}", "test"),
        manifest=paths.manifest("{dataset}"),
        images=paths.images_record("{dataset}"),
        job=paths.job_record("prepare_data", "{dataset}"),
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
        code=library_code("prepare_data.py"),
        settings=lambda wildcards: prepare_settings(DATASETS[wildcards.dataset]),
        images=images_fingerprint,
    script:
        "../scripts/prepare_data.py"
