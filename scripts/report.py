"""Snakemake adapter: rule report → tfedge.report.build_report, then, with tracking on,
tfedge.tracking.log_runs (the store lives in the project: the working directory)."""

from pathlib import Path

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.report import build_report

    results = build_report(
        config=smk.params.config,
        inputs=dict(smk.input.items()),
        template_path=smk.input.page,
        answers_path=smk.input.answers,
        output_path=smk.output.page,
        charts_folder=smk.output.charts,
        tables_folder=smk.output.tables,
    )
    if hasattr(smk.output, "tracking"):
        from tfedge.tracking import log_runs

        log_runs(results, Path(smk.output.page), Path.cwd(), Path(smk.output.tracking))
