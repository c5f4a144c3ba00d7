# Takes the whole config: the report shows every setting's hash, and it is cheap to rerun.
# Its charts and tables, files of their own, are what `snakemake --report` shows besides the
# page (captions in report/captions/, labels from tfedge.snakemake_report).
# No benchmark record: the report cannot show its own time, and with S3 storage this local
# rule's record stayed behind in Snakemake's staging folder (tests/test_s3_storage.py).
rule report:
    input:
        unpack(report_input_files),
        page=local("report/templates/report.html.j2"),
        answers=local("report/answers.md"),
    output:
        **tracking_output(),
        page=report(
            paths.report(config["report"]["file"]),
            caption="../report/captions/page.rst",
            category="1. Report",
            labels={"page": config["report"]["title"]},
        ),
        charts=report(
            directory(paths.report_charts()),
            patterns=["{chart}/{subject}.svg"],
            caption="../report/captions/chart.rst",
            category="2. Charts",
            subcategory=chart_kind,
            labels=chart_labels,
        ),
        tables=report(
            directory(paths.report_tables()),
            patterns=["{table}.csv"],
            caption="../report/captions/table.rst",
            category="3. Tables",
            labels=table_labels,
        ),
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
