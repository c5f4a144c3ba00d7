# Builds and times the networks of the fourth question; takes every core so timings are clean.
rule architectures:
    output:
        measurements=paths.architectures(),
        job=paths.job_record("architectures"),
    log:
        paths.log("architectures", "architectures"),
    benchmark:
        paths.job_benchmark("architectures")
    conda:
        "../envs/tensorflow.yaml"
    threads: every_core()
    resources:
        mem_mb=8000,
        runtime=60,
        benchmark_slot=1,
    params:
        code=library_code("architectures.py"),
        settings=canonical(config["architectures"]),
    script:
        "../scripts/architectures.py"
