# Benchmarks claim every core and the benchmark_slot resource, so timings never overlap
# with another job (profiles/default limits benchmark_slot to 1 for cluster runs too).
rule benchmark:
    input:
        unpack(dataset_inputs("test")),
        conversion=paths.conversion("{variant}", "{format}"),
        reference=paths.predictions("{variant}", REFERENCE_SEED),
    output:
        paths.bench("{variant}", "{format}"),
    log:
        paths.log("benchmark", "{variant}", "{format}"),
    threads: workflow.cores
    resources:
        mem_mb=6000,
        runtime=60,
        benchmark_slot=1,
        gpu=lambda wildcards: int(wildcards.format.startswith("tensorrt")),
    params:
        settings=config["benchmark"],
    script:
        "../scripts/benchmark.py"
