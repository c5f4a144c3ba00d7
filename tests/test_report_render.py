"""The report template escapes what it is given and refers to nothing outside the file."""

from __future__ import annotations

import re

import pytest

from tfedge.report.collect import load_answers
from tfedge.report.render import p_value, percent, render_report

from .conftest import ROOT

TEMPLATE = ROOT / "report" / "templates" / "report.html.j2"
EVIL = "<script>alert('x')</script>"


def minimal_context(**overrides) -> dict:
    manifest = {
        "source_requested": "auto",
        "source_used": "bundled",
        "reason": f"offline {EVIL}",
        "class_names": ["0", "1"],
        "image_size": 28,
        "channels": 1,
        "splits": {split: {"count": 5} for split in ("train", "validation", "test")},
    }
    row = {
        "variant": EVIL,
        "dataset": "mnist",
        "model": "mlp",
        "source_used": "bundled",
        "params": 101770,
        "epochs": 5,
        "best_epochs": [4],
        "train_seconds": 12.345,
        "accuracy_mean": 0.97531,
        "accuracy_std": 0.0,
        "loss_mean": 0.1,
        "seeds": [0],
        "comparison": None,
        "sentence": None,
        "backbone": None,
        "backbone_reason": None,
        "unfrozen": False,
        "features_cached": False,
        "trainable_params": 101770,
        "batch_sizes": [32],
        "oom_backoffs": [],
        "peak_memory_mb": 900.0,
    }
    context = {
        "title": "t",
        "baseline": EVIL,
        "baseline_layers": [
            {"name": "dense", "type": "Dense", "output_shape": "(None, 10)", "params": 10}
        ],
        "baseline_params": 10,
        "alpha": 0.05,
        "seeds": [0],
        "rows": [row],
        "figures": {},
        "datasets": {"mnist": manifest},
        "stand_ins": {"mnist": manifest},
        "backbone_fallbacks": [],
        "answers": load_answers(ROOT / "report" / "answers.md"),
        "conversions": [],
        "architectures": {"threads": 2, "reference": "mobilenet_v2", "models": [], "chart": ""},
        "measured_notes": {},
        "tolerance": 0.01,
        "training_tensorflow": ["2.21.0"],
        "provenance": {
            "generated": "now",
            "git_commit": "abc",
            "config_hash": "123",
            "python": "3",
            "platform": "p",
            "cpu": "c",
            "cores": 2,
            "packages": {"tensorflow": "2.21.0"},
        },
    }
    context.update(overrides)
    return context


def test_values_from_results_are_escaped():
    html = render_report(TEMPLATE, minimal_context())
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_environment_names_the_training_jobs_tensorflow_apart_from_the_report_job():
    """With conda or containers per rule group the report job may not carry TensorFlow."""
    context = minimal_context(training_tensorflow=["2.20.1", "2.21.0"])
    context["provenance"]["packages"] = {"tensorflow": "not installed"}
    table = render_report(TEMPLATE, context).split('id="environment-table"')[1]
    assert "TensorFlow in the training jobs</th><td>2.20.1, 2.21.0</td>" in table
    assert "report job" in table


def test_offline_banner_shows_only_when_a_stand_in_was_used():
    assert 'id="offline-banner"' in render_report(TEMPLATE, minimal_context())
    assert 'id="offline-banner"' not in render_report(TEMPLATE, minimal_context(stand_ins={}))
    fallback = {**minimal_context()["rows"][0], "backbone": "lite (efficientnet_lite0_bundled)"}
    fallback["backbone_reason"] = "auto fell back to the bundled EfficientNet-Lite0: offline"
    html = render_report(TEMPLATE, minimal_context(stand_ins={}, backbone_fallbacks=[fallback]))
    assert 'id="offline-banner"' in html and "auto fell back to the bundled" in html


def test_the_four_answers_are_rendered_with_sources():
    answers = load_answers(ROOT / "report" / "answers.md")
    assert len(answers) == 4
    assert all("Sources:" in answer["html"] for answer in answers)
    html = render_report(TEMPLATE, minimal_context())
    for question in ("What is TensorFlow", "What is TensorRT", "What is ImageNet", "MobileNet"):
        assert question in html
    assert "14,197,122" in html and "1,281,167" in html


def test_measured_notes_go_under_the_answer_with_their_id():
    notes = {"mobilenet": "Measured here: GoogLeNet has 2.0x", "tensorrt": "Measured here: tflite"}
    html = render_report(TEMPLATE, minimal_context(measured_notes=notes))
    sections = {
        match.group(1): match.group(2)
        for match in re.finditer(r'<section id="answer-(\w+)">(.*?)</section>', html, re.DOTALL)
    }
    assert list(sections) == ["tensorflow", "tensorrt", "imagenet", "mobilenet"]
    assert "GoogLeNet has 2.0x" in sections["mobilenet"] and "tflite" in sections["tensorrt"]
    assert "Measured here" not in sections["tensorflow"] + sections["imagenet"]


def test_a_question_without_an_id_is_named(tmp_path):
    answers = tmp_path / "answers.md"
    answers.write_text("# Answers\n\n## What is TensorFlow?\n\nA library.\n")
    with pytest.raises(ValueError, match=r"answers.md:3: a question needs an id"):
        load_answers(answers)


def test_no_external_resources():
    html = render_report(TEMPLATE, minimal_context())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


def test_number_formats():
    assert percent(0.97531) == "97.53" and percent(None) == "—"
    assert p_value(0.0123) == "0.012" and p_value(2e-9) == "2.00e-09"


def test_comparison_sentences_follow_the_numbers():
    from tfedge.report.collect import comparison_sentence

    def sentence(accuracy, beats, unfrozen=False):
        comparison = {
            "reference": "mlp", "reference_accuracy": 0.90, "difference": accuracy - 0.90,
            "worst_p": 0.001 if beats else 0.3, "beats": beats,
        }  # fmt: skip
        row = {"variant": "cnn", "accuracy_mean": accuracy, "unfrozen": unfrozen}
        return comparison_sentence({**row, "comparison": comparison}, 0.05)

    assert sentence(0.95, True).startswith("cnn beats mlp: 95.00 % vs 90.00 % (+5.00 points")
    assert sentence(0.91, False).endswith("but not significantly.")
    assert sentence(0.89, False).startswith("cnn does not beat mlp")
    assert sentence(0.95, True, unfrozen=True).startswith("Unfreezing helped: cnn 95.00 % vs mlp")
    assert sentence(0.89, False, unfrozen=True).startswith("Unfreezing did not help")


def test_names_are_drawn_as_written_not_as_maths():
    """A class folder named ``a$^$b`` once crashed the report: matplotlib read it as TeX."""
    import base64

    from tfedge.report import plots

    names = ["a$^$b", "x_1$", "$\\alpha$"]
    uri = plots.confusion_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 1]], names, "v$1$ (seed 0)")
    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    for text in [*names, "v$1$ (seed 0)"]:
        assert text in svg, text
