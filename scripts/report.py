"""Snakemake adapter: rule report → tfedge.report.build_report."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.report import build_report

    build_report(
        config=smk.params.config,
        inputs=dict(smk.input.items()),
        template_path=smk.input.page,
        answers_path=smk.input.answers,
        output_path=smk.output[0],
    )
