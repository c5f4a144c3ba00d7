rule report:
    input:
        metrics=every_run(paths.metrics),
        predictions=every_run(paths.predictions),
        summaries=every_run(
            lambda variant, seed: paths.model_file(variant, seed, "train.json")
        ),
        histories=every_run(
            lambda variant, seed: paths.model_file(variant, seed, "history.csv")
        ),
        manifests=[paths.manifest(dataset) for dataset in USED_DATASETS],
        conversions=every_conversion(paths.conversion),
        benchmarks=every_conversion(paths.bench),
        architectures=paths.architectures(),
        template=local("report/templates/report.html.j2"),
        answers=local("report/answers.md"),
    output:
        paths.report(),
    log:
        paths.log("report", "report"),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        config=config,
    script:
        "../scripts/report.py"
