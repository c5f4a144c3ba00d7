# Takes the whole config: the report shows every setting's hash, and it is cheap to rerun.
# No benchmark record: the report cannot show its own time, and with S3 storage this local
# rule's record stayed behind in Snakemake's staging folder (tests/test_s3_storage.py).
rule report:
    input:
        unpack(report_input_files),
        page=local("report/templates/report.html.j2"),
        answers=local("report/answers.md"),
    output:
        paths.report(config["report"]["file"]),
    log:
        paths.log("report", Path(config["report"]["file"]).stem),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=library_code("report.py"),
        config=canonical(config),
    script:
        "../scripts/report.py"
