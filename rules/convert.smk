# One folder per (variant, format): conversion.json and, when it succeeded, the model.
# CPU formats run in the TensorFlow environment; TensorRT formats get their own rule so
# they carry a GPU request, the TensorRT environment and, on clusters, a GPU partition.
rule convert:
    input:
        unpack(dataset_inputs("train")),
        unpack(conversion_source),
    output:
        folder=directory(paths.converted_dir("{variant}", "{format}")),
        job=paths.job_record("convert", "{variant}", "{format}"),
    log:
        paths.log("convert", "{variant}", "{format}"),
    benchmark:
        paths.job_benchmark("convert", "{variant}", "{format}")
    wildcard_constraints:
        format=CPU_FORMATS,
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        code=conversion_code,
        settings=conversion_settings,
    script:
        "../scripts/convert.py"


# `use rule … with: resources` replaces the whole set, so it is repeated in full.
use rule convert as convert_tensorrt with:
    wildcard_constraints:
        format=TENSORRT_FORMATS,
    conda:
        "../envs/tensorrt.yaml"
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=1,
