"""A ``source: directory`` image folder is an input: editing it reruns prepare_data, and only then.

One real run prepares a small folder of PNGs; each case edits a copy of that run (mtimes
kept) and asks a dry run what it would do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tfedge.data import fingerprint as fingerprints
from tfedge.data.fingerprint import (
    LinkLeavesFolder,
    describe_changes,
    describe_images,
    folder_entries,
    folder_state,
)
from tfedge.data.sources import list_folder

from .helpers import BUCKET
from .snakemake_runs import SNAKEMAKE, copy_workflow, job_blocks, s3_env, s3_storage, snakemake

MANIFEST = "results/data/own/manifest.json"
PREPARE = ("prepare_data", "dataset=own")
CLASSES = ("ant", "bee", "cat")
PER_CLASS = 14  # the fewest the default validation and test fractions accept

# `directory` is relative to the working directory, so a copied run points at its own
# copy of the images with an unchanged config.
CONFIG = {
    "baseline": "mlp",
    "datasets": {
        "own": {"source": "directory", "directory": "images"},
        "digits": {"source": "bundled", "max_per_class": 5},
    },
    "variants": {"mlp": {"dataset": "own", "model": "mlp", "epochs": 1}},
}


def write_png(path: Path, seed: int | None = None) -> None:
    """A 28x28 grey image: random pixels from ``seed``, or flat grey (a much smaller file)."""
    if seed is None:
        pixels = np.full((28, 28), 128, np.uint8)
    else:
        pixels = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def make_images(root: Path) -> Path:
    for index, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for number in range(PER_CLASS):
            write_png(root / name / f"{number}.png", seed=100 * index + number)
    return root


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A workflow copy whose prepare_data ran once on ./images (3 classes x 14 PNGs)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("prepared"), CONFIG)
    make_images(workdir / "images")
    result = snakemake(workdir, "--cores", "1", MANIFEST)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


@pytest.fixture
def run(prepared, tmp_path) -> Path:
    """A copy of the prepared run, images included; copytree keeps every file's mtime."""
    return Path(shutil.copytree(prepared, tmp_path / "run", symlinks=True))


def plan(
    workdir: Path, *args: str, target: str = MANIFEST, env: dict | None = None
) -> dict[tuple[str, str], str]:
    """(rule, wildcards) → job block of what ``snakemake -n target`` would run."""
    result = snakemake(workdir, target, "-n", *args, env=env)
    assert result.returncode == 0, result.stderr[-5000:] + result.stdout[-5000:]
    return job_blocks(result.stdout + result.stderr)


@pytest.mark.workflow
@pytest.mark.slow
def test_an_untouched_folder_plans_nothing(run):
    assert plan(run) == {}


@pytest.mark.workflow
@pytest.mark.slow
def test_an_added_image_reruns_prepare_data(run):
    write_png(run / "images" / "ant" / "added.png", seed=999)
    assert set(plan(run)) == {PREPARE}


@pytest.mark.workflow
@pytest.mark.slow
def test_a_removed_image_reruns_prepare_data(run):
    (run / "images" / "bee" / "3.png").unlink()
    assert set(plan(run)) == {PREPARE}


@pytest.mark.workflow
@pytest.mark.slow
def test_an_image_replaced_under_the_same_mtime_reruns_prepare_data(run):
    image = run / "images" / "cat" / "5.png"
    old = image.stat()
    write_png(image)  # other bytes, same name
    os.utime(image, ns=(old.st_atime_ns, old.st_mtime_ns))
    new = image.stat()
    assert new.st_mtime_ns == old.st_mtime_ns and new.st_size != old.st_size
    assert set(plan(run)) == {PREPARE}


@pytest.mark.workflow
@pytest.mark.slow
def test_reordered_dataset_keys_plan_nothing(run):
    def reversed_keys(value):
        if isinstance(value, dict):
            return {key: reversed_keys(value[key]) for key in reversed(list(value))}
        return value

    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump(reversed_keys(config), sort_keys=False))
    written = yaml.safe_load((run / "config.yaml").read_text())["datasets"]["own"]
    assert list(written) == list(reversed(list(config["datasets"]["own"])))
    assert plan(run) == {}


@pytest.mark.workflow
@pytest.mark.slow
def test_a_missing_folder_is_a_config_error_before_any_job(run):
    shutil.rmtree(run / "images")
    result = snakemake(run, MANIFEST, "-n")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "  - datasets.own.directory: 'images' is not a folder; " in output, output
    assert "rule prepare_data:" not in output


@pytest.mark.workflow
@pytest.mark.slow
def test_only_directory_datasets_have_a_folder_input(run):
    digits = plan(run, target="results/data/digits/manifest.json")
    assert "input:" not in digits["prepare_data", "dataset=digits"]
    write_png(run / "images" / "ant" / "added.png", seed=999)
    assert "    input: images\n" in plan(run)[PREPARE]


@pytest.mark.workflow
@pytest.mark.slow
def test_default_s3_storage_leaves_the_image_folder_local(run, s3_endpoint):
    blocks = plan(run, *s3_storage(s3_endpoint, BUCKET), env=s3_env())
    block = blocks[PREPARE]  # nothing in the bucket yet: prepare_data is planned
    assert f"s3://{BUCKET}/results/data/own/manifest.json" in block
    assert "    input: images\n" in block, block


@pytest.mark.workflow
@pytest.mark.slow
def test_files_the_loader_ignores_and_touches_plan_nothing(run):
    (run / "images" / ".DS_Store").write_bytes(b"Finder")
    (run / "images" / "README.txt").write_text("where these came from")
    (run / "images" / "ant" / "notes.txt").write_text("a note")
    os.utime(run / "images" / "bee" / "2.png")  # touched: same bytes, new time
    assert plan(run) == {}


@pytest.mark.workflow
@pytest.mark.slow
def test_the_dry_run_says_which_images_changed(run):
    write_png(run / "images" / "ant" / "added.png", seed=999)
    write_png(run / "images" / "ant" / "more.png", seed=998)
    (run / "images" / "bee" / "3.png").unlink()
    write_png(run / "images" / "cat" / "5.png")
    result = snakemake(run, MANIFEST, "-n")
    assert (
        "datasets.own: 2 images added in ant/, 1 image removed in bee/, 1 image changed "
        "in cat/ since prepare_data last read it" in result.stdout + result.stderr
    )


# --- the fingerprint itself ------------------------------------------------------------


def fingerprint(root: Path, record: Path | None = None) -> str:
    settings = {"source": "directory", "directory": str(root)}
    return folder_state(settings, record or root.parent / "no-record.json")[0]


def recorded(root: Path) -> Path:
    """images.json as prepare_data writes it for ``root``."""
    record = root.parent / "images.json"
    record.write_text(json.dumps(describe_images(root)))
    return record


def test_fingerprint_changes_with_the_images_the_loader_reads_and_only_them(tmp_path):
    root = make_images(tmp_path / "images")
    seen = {fingerprint(root)}
    (root / ".DS_Store").write_bytes(b"x")
    (root / "ant" / "._0.png").write_bytes(b"x")  # macOS metadata beside an image
    (root / "top.png").write_bytes(b"x")  # not in a class folder
    (root / "ant" / "notes.txt").write_bytes(b"x")
    os.utime(root / "ant" / "1.png", ns=(0, 0))
    assert fingerprint(root) in seen
    (root / "ant" / "0.png").rename(root / "ant" / "0b.png")
    seen.add(fingerprint(root))
    (root / "bee" / "nested").mkdir()
    (root / "bee" / "nested" / "x.png").write_bytes(b"!")
    seen.add(fingerprint(root))
    (root / "bee" / "nested" / "x.png").write_bytes(b"?")  # same size, other bytes
    seen.add(fingerprint(root))
    (root / "bee" / "nested" / "x.png").unlink()
    assert len(seen) == 4 and fingerprint(root) in seen


def test_fingerprint_of_a_copy_is_the_same_whatever_its_times(tmp_path):
    root = make_images(tmp_path / "images")
    copy = Path(shutil.copytree(root, tmp_path / "elsewhere" / "images", copy_function=shutil.copy))
    assert fingerprint(copy) == fingerprint(root)
    assert [entry[0] for entry in folder_entries(root)][:2] == ["ant/0.png", "ant/1.png"]


def test_fingerprint_reads_only_images_the_record_does_not_vouch_for(tmp_path, monkeypatch):
    root = make_images(tmp_path / "images")
    record = recorded(root)
    expected = fingerprint(root, record)
    read = []
    monkeypatch.setattr(fingerprints, "sha256", lambda path: read.append(path) or "x" * 64)
    os.utime(root / "cat" / "4.png")
    assert fingerprint(root, record) != expected  # the stand-in hash differs from the real one
    assert read == [root / "cat" / "4.png"]


def test_fingerprint_survives_link_loops_and_broken_links(tmp_path):
    root = make_images(tmp_path / "images")
    (root / "ant" / "loop").symlink_to(root)
    (root / "ant" / "gone.png").symlink_to(tmp_path / "nothing.png")
    paths = [entry[0] for entry in folder_entries(root)]
    assert "ant/gone.png" in paths and not any(path.startswith("ant/loop/") for path in paths)
    assert describe_images(root)["images"]["ant/gone.png"]["sha256"] == "not read: a broken link"
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        fingerprint(tmp_path / "nothing")


def test_pipes_and_devices_are_listed_and_never_opened(tmp_path):
    """A named pipe would block the plan's read forever, and /dev/zero never ends: the
    fingerprint (in a child with a time limit, so a regression fails instead of hanging) and
    prepare_data's listing name them without opening them."""
    root = make_images(tmp_path / "images")
    os.mkfifo(root / "ant" / "pipe.png")
    (root / "bee" / "zero.png").symlink_to("/dev/zero")
    state = subprocess.run(
        [sys.executable, "-c", "import sys; from tfedge.data.fingerprint import folder_state; "
         f"print(folder_state({{'source': 'directory', 'directory': {str(root)!r}}}, 'none'))"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert state.returncode == 0, state.stderr
    images = describe_images(root)["images"]
    assert images["ant/pipe.png"]["sha256"] == "not read: a named pipe (FIFO)"
    assert images["bee/zero.png"]["sha256"] == "not read: a character device"
    listing = list_folder(root, list(CLASSES))
    assert listing.not_read == {
        "ant/pipe.png": "a named pipe (FIFO): not read",
        "bee/zero.png": "a character device: not read",
    }
    assert "ant/pipe.png" not in listing.images["ant"]


def test_an_empty_class_folder_changes_the_fingerprint_and_is_named(tmp_path):
    root = make_images(tmp_path / "images")
    record = recorded(root)
    before = fingerprint(root, record)
    (root / "dog").mkdir()
    assert fingerprint(root, record) != before
    settings = {"source": "directory", "directory": str(root)}
    assert folder_state(settings, record)[1] == "class folders dog/ added"
    (root / ".thumbnails").mkdir()  # hidden: not a class
    assert folder_state(settings, record)[1] == "class folders dog/ added"


def test_a_link_that_leaves_the_folder_is_refused_with_its_name(tmp_path):
    root = make_images(tmp_path / "images")
    elsewhere = make_images(tmp_path / "elsewhere")
    (root / "dog").symlink_to(elsewhere / "ant")
    with pytest.raises(LinkLeavesFolder, match=f"{root}/dog links to {elsewhere}/ant, outside"):
        folder_entries(root)
    settings = {"source": "directory", "directory": str(root)}
    with pytest.raises(LinkLeavesFolder) as refused:
        folder_state(settings, root.parent / "no-record.json")  # the plan's fingerprint
    assert str(refused.value) == (
        f"{root}/dog links to {elsewhere}/ant, outside {root}: copy what "
        "it points at into the folder, or point the dataset at a folder that holds it"
    )
    (root / "dog").unlink()
    (root / "ant" / "again.png").symlink_to(root / "bee" / "0.png")  # inside: followed
    assert "ant/again.png" in [entry.relative for entry in folder_entries(root)]


def test_only_directory_datasets_get_a_fingerprint(tmp_path):
    root = make_images(tmp_path / "images")
    bundled = {"source": "bundled", "directory": str(root)}
    assert folder_state(bundled, tmp_path / "images.json") == (None, "")


def test_changes_are_said_per_class_folder():
    before = {"ant/1.png": "a", "bee/1.png": "b", "bee/2.png": "c"}
    after = {"ant/1.png": "a", "ant/2.png": "d", "bee/1.png": "B"}
    assert describe_changes(before, after) == (
        "1 image added in ant/, 1 image changed in bee/, 1 image removed in bee/"
    )
    assert describe_changes(before, before) == ""


@pytest.mark.workflow
@pytest.mark.slow
def test_an_empty_class_folder_reruns_prepare_data_which_names_it(run):
    (run / "images" / "dog").mkdir()
    result = snakemake(run, "report", "-n")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert PREPARE in job_blocks(output)
    assert "datasets.own: class folders dog/ added since prepare_data last read it" in output
    real = snakemake(run, "--cores", "1", "report")
    assert real.returncode != 0
    log = (run / "results/logs/prepare_data/own.log").read_text()
    assert "at least 14 usable images" in log and "too few in dog" in log, log[-2000:]
    assert "Add images to these classes, remove their folders" in log


@pytest.mark.workflow
@pytest.mark.slow
def test_pipes_and_devices_are_planned_and_prepared_around_never_read(run):
    os.mkfifo(run / "images" / "ant" / "pipe.png")
    (run / "images" / "bee" / "zero.png").symlink_to("/dev/zero")
    planned = subprocess.run(
        [SNAKEMAKE, "report", "-n"], cwd=run, capture_output=True, text=True, timeout=120
    )
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert PREPARE in job_blocks(planned.stdout + planned.stderr)
    prepared = subprocess.run(
        [SNAKEMAKE, "--cores", "1", MANIFEST], cwd=run, capture_output=True, text=True, timeout=600
    )
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    skipped = json.loads((run / MANIFEST).read_text())["images"]["skipped"]
    assert {entry["file"]: entry["reason"] for entry in skipped} == {
        "ant/pipe.png": "a named pipe (FIFO): not read",
        "bee/zero.png": "a character device: not read",
    }


@pytest.mark.workflow
@pytest.mark.slow
def test_a_class_folder_linked_from_elsewhere_is_refused_before_any_job(run, tmp_path):
    elsewhere = make_images(tmp_path / "elsewhere")
    (run / "images" / "dog").symlink_to(elsewhere / "ant")
    result = snakemake(run, "report", "-n")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"datasets.own.directory: images/dog links to {elsewhere}/ant, outside images" in output
    assert "rule prepare_data:" not in output
