# Damage found while planning is remade by Snakemake itself (tfedge.integrity, ARCHITECTURE.md
# §9): each damaged output joins --forcerun, so the job that made it and everything made from
# it run again, whatever the target. A dry run changes nothing and names the damage again until
# it is repaired; a real run first moves the damaged outputs, whole, to results/.damaged/<time>/.
# Only where jobs are planned, on this file system: remote jobs do not plan, and with S3
# storage the jobs' own hash checks find damage. Included last: it asks the rules what they make.
import os
import shlex
from datetime import datetime, timezone

from tfedge.integrity import RUN_COMMAND, damaged_jobs, move_aside


def producible(path):
    return any(rule.is_producer(path) for rule in workflow.rules)


def run_command(dag_settings):
    """The user's command line with a {target} to force: the same target and config files,
    as `make report` where make started this run."""
    files = config_sources("config.yaml", workflow.overwrite_configfiles)
    own_files = [] if files == ["config.yaml"] else files
    targets = sorted(dag_settings.targets)
    if os.environ.get("MAKELEVEL") and targets == ["report"]:
        config_arg = [f"CONFIG={shlex.quote(' '.join(own_files))}"] if own_files else []
        return shlex.join(["make", "report", *config_arg]) + " FORCERUN={target}"
    configfile_args = ["--configfile", *own_files] if own_files else []
    return (
        shlex.join(["snakemake", *targets, *configfile_args]) + " --forcerun {target}"
    )


class RepairingWorkflow(type(workflow)):
    """Snakemake hands a workflow its DAG settings (targets, --forcerun) only after parsing it,
    so this is where the damaged outputs join --forcerun, and where the command jobs print
    with a fix is noted."""

    @property
    def dag_settings(self):
        return self.__dict__["dag_settings"]

    @dag_settings.setter
    def dag_settings(self, settings):
        if settings is not None:
            damaged = {damage.output for damage in DAMAGED}
            settings.forcerun = frozenset(settings.forcerun) | damaged
            os.environ.setdefault(RUN_COMMAND, run_command(settings))
        self.__dict__["dag_settings"] = settings


DAMAGED = []
if not workflow.remote_exec and not workflow.storage_settings.default_storage_provider:
    DAMAGED = [damage for damage in damaged_jobs(config) if producible(damage.output)]
    workflow.__class__ = RepairingWorkflow
    for damage in DAMAGED:
        logger.warning(
            f"{damage.output} is damaged ({'; '.join(damage.problems)}): planned to be "
            f"remade with everything made from it, as --forcerun {damage.output} would; "
            "a real run first moves the damaged outputs to results/.damaged/"
        )


onstart:
    if DAMAGED:
        kept = move_aside(DAMAGED, datetime.now(timezone.utc))
        logger.warning(f"damaged outputs moved to {kept} before they are remade")
