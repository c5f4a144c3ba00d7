"""The README's config reference is generated from the schema and kept current."""

from __future__ import annotations

import re

import pytest
import yaml

from tfedge.config_reference import END, START, readme_with_reference, render_reference

from .helpers import ROOT, SCHEMA

README = ROOT / "README.md"


def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def test_readme_reference_is_the_generated_one():
    readme = README.read_text()
    assert readme_with_reference(readme, schema()) == readme, "run `make docs`"


def test_a_schema_edit_makes_the_readme_stale():
    edited = schema()
    edited["properties"]["seeds"]["default"] = [0, 1, 2]
    readme = README.read_text()
    assert readme_with_reference(readme, edited) != readme


def documented_keys() -> dict[str, list[str]]:
    rows = re.findall(r"^\| `([^`]+)` \| (.*)$", render_reference(schema()), re.MULTILINE)
    return {key: cells.split(" | ") for key, cells in rows}


def test_every_key_has_a_type_default_and_meaning():
    keys = documented_keys()
    assert len(keys) > 50
    for key, (kind, default, meaning) in keys.items():
        assert kind and default, key
        assert meaning.strip(" |"), f"{key} has no description in the schema"


@pytest.mark.parametrize(
    ("key", "kind", "default"),
    [
        ("seeds", "array of integer", "`[0]`"),
        ("baseline", "string or object", "required"),
        ("datasets.<name>.source", '"auto" \\| "tfds" \\| "directory" \\| "bundled"', "`auto`"),
        ("variants.<name>.hidden_units", "integer", "`128`"),
        ("convert.tensorrt.workspace_mb", "integer", "`2048`"),
        ("report.significance_level", "number", "`0.05`"),
    ],
)
def test_rows_carry_the_schema_type_and_default(key, kind, default):
    assert documented_keys()[key][:2] == [kind, default]


def test_model_specific_keys_say_which_model():
    keys = documented_keys()
    assert keys["variants.<name>.filters"][2].startswith("(model cnn)")
    assert keys["variants.<name>.unfreeze"][2].startswith("(model transfer)")


def test_missing_markers_are_an_error():
    with pytest.raises(ValueError, match="lacks the markers"):
        readme_with_reference("# no markers\n", schema())
    assert START in README.read_text() and END in README.read_text()
