"""config.yaml, validated before any job runs, with errors that name the field and the fix.

``validation`` runs the checks in order; the other modules each hold one kind of check or the
helpers the rules and the report apply to a valid config. Nothing is imported here, so a
module that needs one helper digests (tfedge.code_digest) and imports that helper alone. None
of these modules imports TensorFlow: Snakemake imports them while it parses the workflow.
"""
