"""Does a change alter the report? One finished run's results, rendered by two versions of tfedge.

Each version renders the same results with its own workflow and library: the run's results/
and config.yaml are copied beside that version's workflow, and `snakemake report -R report
--rerun-triggers mtime` runs the report job alone (the other jobs' code digests differ
between versions, which the mtime trigger ignores). What differs between two renders of the
same results by the same code is taken out before comparing: the render time, and the date and
random ids matplotlib writes into each SVG. Prints "identical" or the lines that differ, and
exits 1 when they do. By hand, on a finished run (a `make report` folder, or a copy of one):

    .venv/bin/python benchmarks/report_renders.py RUN --before 5ac268d
    .venv/bin/python benchmarks/report_renders.py RUN --before HEAD~3 --after HEAD
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cores import worktree  # noqa: E402
from tests.snakemake_runs import SNAKEMAKE, copy_workflow  # noqa: E402

REPORT = Path("results") / "report.html"
SVG = re.compile(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)")
MATPLOTLIB_ID = re.compile(r"\b((?:[pm]|image|C\d+_\d+_)[0-9a-f]{10})\b")  # random per render
SVG_DATE = re.compile(r"<dc:date>.*?</dc:date>")
RENDER_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")


def steady_svg(match: re.Match) -> str:
    """An embedded SVG, decoded, without its date and with its ids numbered in order."""
    text = SVG_DATE.sub("<dc:date/>", base64.b64decode(match.group(1)).decode())
    ids: dict[str, str] = {}
    return MATPLOTLIB_ID.sub(lambda found: ids.setdefault(found.group(1), f"id{len(ids)}"), text)


def steady(html: str) -> list[str]:
    """The report's lines without what changes from one render to the next."""
    return RENDER_TIME.sub("<time>", SVG.sub(steady_svg, html)).splitlines()


def render(run: Path, checkout: Path, folder: Path) -> str:
    """The report of ``run``'s results as ``checkout``'s workflow and library render it."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    folder.mkdir()
    workdir = copy_workflow(folder, config, checkout)
    shutil.copytree(run / "results", workdir / "results", symlinks=True)
    # The target first: -R and --rerun-triggers take several values and would swallow it.
    command = [SNAKEMAKE, "report", "--cores", "1", "-R", "report", "--rerun-triggers", "mtime"]
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"rendering with {checkout} failed:\n{result.stderr[-4000:]}")
    log = result.stdout + result.stderr
    ran = set(re.findall(r"^(?:local)?rule (\w+):", log, re.MULTILINE)) - {"all"}
    if ran != {"report"}:
        sys.exit(f"{checkout} reran more than the report ({sorted(ran)}): not the same results")
    return (workdir / REPORT).read_text()


@contextlib.contextmanager
def checkout_of(revision: str | None):
    """This working tree for None, else a temporary worktree of ``revision``."""
    if revision is None:
        yield ROOT
    else:
        with worktree(revision) as path:
            yield path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a finished run: config.yaml and results/")
    parser.add_argument("--before", required=True, help="git revision of the old version")
    parser.add_argument("--after", help="git revision of the new one (default: this tree)")
    options = parser.parse_args()
    renders = []
    with tempfile.TemporaryDirectory(prefix="tfedge-renders-") as folder:
        for side, revision in (("before", options.before), ("after", options.after)):
            with checkout_of(revision) as checkout:
                renders.append(steady(render(options.run, checkout, Path(folder) / side)))
    differences = list(difflib.unified_diff(*renders, "before", "after", lineterm="", n=0))
    print("\n".join(line[:300] for line in differences) or "identical")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
