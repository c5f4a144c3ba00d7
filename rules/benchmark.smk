# Benchmarks claim every core and the benchmark_slot resource, so timings never overlap
# with another job (every profile limits benchmark_slot to 1).
# One job per variant times all its CPU formats in one process: the test split is decoded
# and TensorFlow imported once, and the formats are timed side by side. A reconverted
# format therefore reruns its variant's whole benchmark job.
if CPU_BENCHMARK_FORMATS:

    rule benchmark:
        input:
            unpack(dataset_inputs("test")),
            **{
                f"converted/{fmt}": paths.converted_dir("{variant}", fmt)
                for fmt in CPU_BENCHMARK_FORMATS
            },
            reference=paths.predictions("{variant}", REFERENCE_SEED),
        output:
            **{
                fmt: measurement(paths.bench("{variant}", fmt), fmt)
                for fmt in CPU_BENCHMARK_FORMATS
            },
            job=paths.job_record("benchmark", "{variant}"),
        log:
            paths.log("benchmark", "{variant}"),
        benchmark:
            paths.job_benchmark("benchmark", "{variant}")
        conda:
            "../envs/tensorflow.yaml"
        threads: every_core()
        resources:
            mem_mb=6000,
            runtime=60,
            benchmark_slot=1,
        params:
            code=library_code("benchmark.py"),
            settings=canonical(config["benchmark"]),
        script:
            "../scripts/benchmark.py"


# TensorRT: one job per format, with the TensorRT environment and a GPU request.
rule benchmark_tensorrt:
    input:
        unpack(dataset_inputs("test")),
        unpack(tensorrt_converted),
        reference=paths.predictions("{variant}", REFERENCE_SEED),
    output:
        bench=measurement(paths.bench("{variant}", "{format}")),
        job=paths.job_record("benchmark", "{variant}", "{format}"),
    log:
        paths.log("benchmark", "{variant}", "{format}"),
    benchmark:
        paths.job_benchmark("benchmark", "{variant}", "{format}")
    wildcard_constraints:
        format=TENSORRT_FORMATS,
    conda:
        "../envs/tensorrt.yaml"
    threads: every_core()
    resources:
        mem_mb=6000,
        runtime=60,
        benchmark_slot=1,
        gpu=1,
    params:
        code=tensorrt_benchmark_code,
        settings=canonical(config["benchmark"]),
    script:
        "../scripts/benchmark.py"
