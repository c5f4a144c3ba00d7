"""Snakemake adapter: rule report → tfedge.report.build_report."""

from tfedge.job import job

smk = snakemake  # noqa: F821 (injected by Snakemake)

with job(smk):
    from tfedge.paths import report_inputs, staged
    from tfedge.report import build_report

    keyed = report_inputs(smk.params.config)
    build_report(
        config=smk.params.config,
        inputs=staged(keyed, {kind: list(getattr(smk.input, kind, [])) for kind in keyed}),
        template_path=smk.input.template,
        answers_path=smk.input.answers,
        output_path=smk.output[0],
    )
