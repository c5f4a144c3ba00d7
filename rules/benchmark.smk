# Benchmarks claim every core and the benchmark_slot resource, so timings never overlap
# with another job (every profile limits benchmark_slot to 1).
rule benchmark:
    input:
        unpack(dataset_inputs("test")),
        converted=paths.converted_dir("{variant}", "{format}"),
        reference=paths.predictions("{variant}", REFERENCE_SEED),
    output:
        paths.bench("{variant}", "{format}"),
    log:
        paths.log("benchmark", "{variant}", "{format}"),
    benchmark:
        paths.job_benchmark("benchmark", "{variant}", "{format}")
    wildcard_constraints:
        format=CPU_FORMATS,
    conda:
        "../envs/tensorflow.yaml"
    threads: workflow.cores
    resources:
        mem_mb=6000,
        runtime=60,
        benchmark_slot=1,
    params:
        settings=canonical(config["benchmark"]),
    script:
        "../scripts/benchmark.py"


# `use rule … with: resources` replaces the whole set, so it is repeated in full.
use rule benchmark as benchmark_tensorrt with:
    wildcard_constraints:
        format=TENSORRT_FORMATS,
    conda:
        "../envs/tensorrt.yaml"
    resources:
        mem_mb=6000,
        runtime=60,
        benchmark_slot=1,
        gpu=1,
