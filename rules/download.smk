# The only jobs that may open a network connection: each fetches one TFDS data set or one
# backbone's weights into results/downloads/ and records what, from where and why (there,
# once, source auto decides). Local rules: on a cluster they run where Snakemake runs (the
# login node, which has the network); `snakemake downloads` runs only them.
from tfedge.config.helpers import canonical

# The settings a download reads; the rest of a dataset's settings are prepare_data's.
DATASET_DOWNLOAD_SETTINGS = ("source", "tfds_name", "data_dir", "probe_timeout_s")


localrules:
    downloads,
    download_data,
    download_backbone,


rule downloads:
    input:
        [paths.dataset_download(name) for name in paths.downloaded_datasets(config)],
        [paths.backbone_download(name) for name in paths.downloaded_backbones(config)],


rule download_data:
    output:
        record=paths.dataset_download("{dataset}"),
        tfds=directory(paths.dataset_download_dir("{dataset}")),
        job=paths.job_record("download_data", "{dataset}"),
    log:
        paths.log("download_data", "{dataset}"),
    benchmark:
        paths.job_benchmark("download_data", "{dataset}")
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        code=library_code("download_data.py"),
        settings=lambda wildcards: canonical(
            {
                key: DATASETS[wildcards.dataset][key]
                for key in DATASET_DOWNLOAD_SETTINGS
            }
        ),
    script:
        "../scripts/download_data.py"


rule download_backbone:
    output:
        record=paths.backbone_download("{backbone}"),
        files=directory(paths.backbone_download_dir("{backbone}")),
        job=paths.job_record("download_backbone", "{backbone}"),
    log:
        paths.log("download_backbone", "{backbone}"),
    benchmark:
        paths.job_benchmark("download_backbone", "{backbone}")
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        code=library_code("download_backbone.py"),
        settings=lambda wildcards: canonical(config["backbones"][wildcards.backbone]),
        image_sizes=lambda wildcards: canonical(
            backbone_image_sizes(wildcards.backbone)
        ),
    script:
        "../scripts/download_backbone.py"
