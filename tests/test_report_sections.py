"""The numbers each report section computes, from results files read by name (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from tfedge.report.sections import (
    accuracy,
    answers,
    banner,
    baseline,
    conversions,
    deployment,
    job_times,
    summary,
)

from .helpers import ROOT, tiny_config, validated
from .report_fakes import bench, manifest, write_job, write_results


def config_with(baseline_setting) -> dict:
    """The tiny config plus ``frozen_small``, a flowers variant without init_from."""
    config = tiny_config()
    config["variants"]["frozen_small"] = {**config["variants"]["frozen"], "epochs": 1}
    config["baseline"] = baseline_setting
    return validated(config)


MLP_BATCH_POINTS = ("mlp_batch_batch_size_16", "mlp_batch_batch_size_64")  # the tiny sweep


def test_init_from_comes_before_the_datasets_baseline():
    variants = config_with("frozen")["variants"]
    per_dataset = {"mnist": "cnn", "flowers": "frozen_small"}
    assert accuracy.reference_of("finetuned", variants, per_dataset) == "frozen"
    assert accuracy.reference_of("frozen", variants, per_dataset) == "frozen_small"
    assert accuracy.reference_of("mlp_baseline", variants, per_dataset) == "cnn"
    assert accuracy.reference_of("cnn", variants, per_dataset) is None
    assert accuracy.reference_of("cnn", variants, {"flowers": "frozen_small"}) is None


def references(results) -> dict:
    return {
        row["variant"]: (row["comparison"] or {}).get("reference") for row in accuracy.rows(results)
    }


def test_each_dataset_is_compared_with_its_own_baseline(tmp_path):
    results = write_results(tmp_path, config_with({"mnist": "mlp_baseline", "flowers": "frozen"}))
    assert references(results) == {
        "mlp_baseline": None, "cnn": "mlp_baseline",
        "frozen": None, "finetuned": "frozen", "frozen_small": "frozen",
        **{point: "mlp_baseline" for point in MLP_BATCH_POINTS},
    }  # fmt: skip
    cnn = next(row for row in accuracy.rows(results) if row["variant"] == "cnn")
    assert cnn["comparison"]["beats"] and cnn["comparison"]["difference"] == pytest.approx(0.3)
    assert cnn["accuracy_mean"] == pytest.approx(0.9) and cnn["accuracy_std"] == 0.0
    assert [network["variant"] for network in baseline.context(results)["networks"]] == [
        "mlp_baseline", "frozen",
    ]  # fmt: skip
    assert baseline.context(results)["heading"] == "The baseline networks"


def test_a_dataset_left_out_of_the_mapping_gets_no_comparison(tmp_path):
    results = write_results(tmp_path, config_with({"flowers": "frozen"}))
    compared = {name for name, reference in references(results).items() if reference}
    assert compared == {"finetuned", "frozen_small"}
    assert baseline.context(results)["heading"] == "The baseline network"


def test_one_baseline_name_still_compares_its_dataset_only(tmp_path):
    results = write_results(tmp_path, config_with("mlp_baseline"))
    compared = {name for name, reference in references(results).items() if reference}
    assert compared == {"cnn", "finetuned", *MLP_BATCH_POINTS}


def test_a_variant_no_better_than_its_reference_does_not_beat_it(tmp_path):
    results = write_results(tmp_path, config_with("mlp_baseline"), correct={"cnn": 0.61})
    cnn = next(row for row in accuracy.rows(results) if row["variant"] == "cnn")
    assert not cnn["comparison"]["beats"] and cnn["comparison"]["worst_p"] > 0.05


def test_comparison_sentences_follow_the_numbers():
    def sentence(accuracy_mean, beats, unfrozen=False, source_used="tfds"):
        comparison = {
            "reference": "mlp", "reference_accuracy": 0.90, "difference": accuracy_mean - 0.90,
            "worst_p": 0.001 if beats else 0.3, "beats": beats,
        }  # fmt: skip
        row = {"variant": "cnn", "accuracy_mean": accuracy_mean, "unfrozen": unfrozen,
               "source_used": source_used, "comparison": comparison}  # fmt: skip
        return accuracy.comparison_sentence(row, 0.05)

    assert sentence(0.95, True).startswith("cnn beats mlp: 95.00 % vs 90.00 % (+5.00 points")
    assert sentence(0.91, False).endswith("but not significantly.")
    assert sentence(0.89, False).startswith("cnn does not beat mlp")
    assert sentence(0.95, True, unfrozen=True).startswith("Unfreezing helped")
    caveat = "On the offline stand-in data this run cannot show the homework's gain"
    assert caveat in sentence(0.91, False, unfrozen=True, source_used="bundled")
    assert caveat not in sentence(0.91, False, unfrozen=True, source_used="tfds")
    assert caveat not in sentence(0.95, True, unfrozen=True, source_used="bundled")


def test_the_summary_names_the_best_variant_per_dataset_and_where_the_sweeps_are(tmp_path):
    config = config_with("mlp_baseline")
    results = write_results(tmp_path, config, correct={"cnn": 0.95, "finetuned": 0.97})
    context = summary.context(results)
    assert {choice["dataset"]: choice["variant"] for choice in context["best"]} == {
        "mnist": "cnn", "flowers": "finetuned",
    }  # fmt: skip
    assert context["best"][0]["test_images"] == 200
    assert len(context["sentences"]) == 4  # cnn, finetuned and the two sweep points
    assert not context["sweeps_elsewhere"]  # the tiny config has a sweep of its own
    del config["sweeps"]
    assert summary.context(write_results(tmp_path / "plain", config))["sweeps_elsewhere"]


def test_the_banner_shows_only_what_stood_in(tmp_path):
    config = config_with("mlp_baseline")
    assert set(banner.context(write_results(tmp_path, config))["stand_ins"]) == {"mnist", "flowers"}
    tfds = {dataset: manifest(dataset, source_used="tfds") for dataset in ("mnist", "flowers")}
    assert banner.context(write_results(tmp_path / "tfds", config, manifests=tfds)) is None
    reason = "auto fell back to the bundled EfficientNet-Lite0"
    fell_back = {"backbone": {"name": "lite", "source": "bundled", "reason": reason}}
    results = write_results(
        tmp_path / "fb", config, manifests=tfds, summaries={"frozen": fell_back}
    )
    assert [row["variant"] for row in banner.context(results)["backbone_fallbacks"]] == ["frozen"]


def conversion_table(tmp_path, records: dict[str, dict]) -> dict:
    config = validated(tiny_config())
    config["convert"]["formats"] = list(records)
    benchmarks = {("cnn", fmt): record for fmt, record in records.items()}
    (table,) = conversions.context(write_results(tmp_path, config, benchmarks=benchmarks))["tables"]
    return {row["format"]: row for row in table["rows"]}


def test_speed_ups_carry_an_interval_and_only_a_measurable_winner_is_fastest(tmp_path):
    rows = conversion_table(
        tmp_path,
        {
            "savedmodel": bench("cnn", "savedmodel", p50=4.0),
            "tflite_fp32": bench("cnn", "tflite_fp32", p50=1.0),
            "onnx": bench("cnn", "onnx", p50=3.9),
            "tflite_int8": bench("cnn", "tflite_int8", p50=0.5, accuracy=0.5),
            "tensorrt_fp16": {"variant": "cnn", "format": "tensorrt_fp16", "status": "skipped",
                              "reason": "no CUDA device"},
        },
    )  # fmt: skip
    assert rows["tflite_fp32"]["speedup"] == pytest.approx(4.0)
    assert 3 < rows["tflite_fp32"]["speedup_low"] < 4 < rows["tflite_fp32"]["speedup_high"]
    assert not rows["onnx"]["speedup_measurable"]  # 1.03×, within the timings' spread
    assert rows["tflite_int8"]["flagged"] and not rows["tflite_int8"]["fastest"]
    assert [fmt for fmt, row in rows.items() if row["fastest"]] == ["tflite_fp32"]
    assert "flagged" not in rows["tensorrt_fp16"]


def test_no_format_is_fastest_without_a_measurable_speed_up(tmp_path):
    rows = conversion_table(
        tmp_path,
        {"savedmodel": bench("cnn", "savedmodel", p50=1.0), "onnx": bench("cnn", "onnx", p50=0.98)},
    )
    assert not any(row["fastest"] for row in rows.values())


def test_measured_notes_quote_this_runs_figures_under_their_answers(tmp_path):
    config = validated(tiny_config())
    results = write_results(tmp_path, config)
    notes = answers.context(results)["notes"]
    assert set(notes) == {"tensorrt", "mobilenet"}
    assert (
        "GoogLeNet has 2.0× MobileNetV2's parameters and 5.0× its multiply-adds"
        in notes["mobilenet"]
    )
    assert "TensorRT engines:" in notes["tensorrt"]


def test_the_four_answers_have_ids_and_sources():
    loaded = answers.load_answers(ROOT / "report" / "answers.md")
    assert [answer["id"] for answer in loaded] == [
        "tensorflow",
        "tensorrt",
        "imagenet",
        "mobilenet",
    ]
    assert all("Sources:" in answer["html"] for answer in loaded)


def test_a_question_without_an_id_is_named(tmp_path):
    path = tmp_path / "answers.md"
    path.write_text("# Answers\n\n## What is TensorFlow?\n\nA library.\n")
    with pytest.raises(ValueError, match=r"answers.md:3: a question needs an id"):
        answers.load_answers(path)


def test_the_longest_chain_follows_what_each_job_read_and_wrote(tmp_path):
    """prepare → train cnn → train mlp (reads cnn's model) → evaluate mlp; every other job
    takes 1 s and waits for none."""
    results = write_results(tmp_path, validated(tiny_config()))
    data, cnn, mlp = "results/data/mnist/train.tfrecord", "results/cnn.keras", "results/mlp.keras"
    chain = {
        ("prepare_data", "mnist"): (5.0, [], [data]),
        ("train", "cnn", "seed0"): (10.0, [data], [cnn]),
        ("train", "mlp_baseline", "seed0"): (3.0, [data, cnn], [mlp]),
        ("evaluate", "mlp_baseline", "seed0"): (2.0, [mlp, data], ["results/m.json"]),
    }
    for job, (seconds, read, written) in chain.items():
        write_job(tmp_path, job, seconds, read, written)
    context = job_times.context(results)
    assert [(job["rule"], job["job"]) for job in context["chain"]] == [
        ("prepare_data", "mnist"), ("train", "cnn seed0"), ("train", "mlp_baseline seed0"),
        ("evaluate", "mlp_baseline seed0"),
    ]  # fmt: skip
    assert context["chain_seconds"] == 20.0
    others = len(results.keys("job_times")) - len(chain)
    assert context["total_seconds"] == 20.0 + others
    assert context["rules"][0]["rule"] == "train"


def test_a_job_record_gives_wall_time_peak_memory_and_cpu_time(tmp_path):
    write_job(tmp_path, ("train", "cnn", "seed0"), 12.5)
    record = job_times.read_record(tmp_path / "results/benchmarks/train/cnn_seed0.tsv")
    assert record == {"seconds": 12.5, "peak_mb": 100.5, "cpu_seconds": 1.5}


def fake_bench(
    fmt: str, accuracy: float, p50: float, status: str = "ok", spread: float | None = 0.1
) -> dict:
    """A benchmark record; its 21 timings spread evenly by ``spread`` × ``p50`` either side of
    ``p50``, or none at all (``spread=None``), as records written before timings were kept."""
    if status != "ok":
        return {"variant": "cnn", "format": fmt, "status": status, "reason": "no CUDA device"}
    latency = {"p50_ms": p50, "p95_ms": p50 * 1.2, "mean_ms": p50}
    if spread is not None:
        latency["samples_ms"] = list(p50 * (1 + spread * np.linspace(-1, 1, 21)))
    return {
        "variant": "cnn", "format": fmt, "status": "ok", "reason": None, "size_bytes": 1000,
        "test_accuracy": accuracy, "agreement": 0.99, "threads": 2,
        "latency_batch1": latency, "throughput_images_per_s": 100.0,
    }  # fmt: skip


def fake_conversion_rows(tmp_path, benches: list[dict]) -> list[dict]:
    """The report's conversion rows for these benchmark records."""
    return conversions.conversion_rows(benches, 0.95, tolerance=0.01)


def test_tolerance_flag_and_fastest_format(tmp_path):
    rows = fake_conversion_rows(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0),
            fake_bench("tflite_fp32", 0.95, 0.5),
            fake_bench("tflite_int8", 0.90, 0.2),
            fake_bench("tensorrt_fp16", 0, 0, status="skipped"),
        ],
    )
    by_format = {row["format"]: row for row in rows}
    assert by_format["tflite_int8"]["flagged"] and not by_format["tflite_fp32"]["flagged"]
    assert [row["format"] for row in rows if row["fastest"]] == ["tflite_fp32"]
    assert by_format["tflite_fp32"]["speedup"] == pytest.approx(4.0)
    fp32 = by_format["tflite_fp32"]
    assert 1 < fp32["speedup_low"] < 4 < fp32["speedup_high"] and fp32["speedup_measurable"]
    assert "flagged" not in by_format["tensorrt_fp16"]


def test_tensorrt_answer_quotes_the_measured_speed_up(tmp_path):
    rows = fake_conversion_rows(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0),
            fake_bench("tflite_fp32", 0.95, 0.5),
            fake_bench("tensorrt_fp16", 0, 0, status="skipped"),
        ],
    )
    notes = answers.measured_notes([{"variant": "cnn", "rows": rows}], {"models": []})
    assert "tflite_fp32 ran 4.00× faster than the TensorFlow SavedModel" in notes["tensorrt"]
    assert "(95 % bootstrap interval " in notes["tensorrt"]
    assert "TensorRT engines: skipped: no CUDA device." in notes["tensorrt"]
    assert "mobilenet" not in notes


def conversion_notes(tmp_path, benches: list[dict]) -> tuple[dict, str]:
    """Rows by format, and the measured note on speed, for fake benchmark records."""
    rows = fake_conversion_rows(tmp_path, benches)
    notes = answers.measured_notes([{"variant": "cnn", "rows": rows}], {"models": []})
    return {row["format"]: row for row in rows}, notes["tensorrt"]


def test_a_speed_up_inside_the_noise_is_neither_marked_nor_claimed(tmp_path):
    rows, note = conversion_notes(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0, spread=0.3),
            fake_bench("tflite_fp32", 0.95, 1.9, spread=0.3),
            fake_bench("onnx", 0.95, 1.95, spread=0.3),
        ],
    )
    fp32 = rows["tflite_fp32"]
    assert fp32["speedup"] == pytest.approx(2.0 / 1.9)
    assert fp32["speedup_low"] < 1 < fp32["speedup_high"] and not fp32["speedup_measurable"]
    assert not any(row["fastest"] for row in rows.values())
    assert "× faster" not in note
    assert "no format within the accuracy tolerance ran measurably faster" in note
    interval = f"{fp32['speedup_low']:.2f}–{fp32['speedup_high']:.2f}"
    assert f"the quickest, tflite_fp32: 1.05×, 95 % bootstrap interval {interval})" in note


def test_the_mark_goes_to_the_lowest_p50_only_when_that_one_is_measurable(tmp_path):
    """A noisy quickest format is not passed over for a slower one that happens to be tight."""
    rows, note = conversion_notes(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0, spread=0.01),
            fake_bench("tflite_fp32", 0.95, 1.8, spread=0.95),
            fake_bench("onnx", 0.95, 1.9, spread=0.01),
        ],
    )
    assert rows["onnx"]["speedup_measurable"] and rows["onnx"]["speedup_low"] > 1
    assert not rows["tflite_fp32"]["speedup_measurable"]
    assert not any(row["fastest"] for row in rows.values())
    assert "the quickest, tflite_fp32" in note and "× faster" not in note


def test_a_measurably_slower_format_is_measurable_but_never_fastest(tmp_path):
    rows, note = conversion_notes(
        tmp_path, [fake_bench("savedmodel", 0.95, 1.0), fake_bench("onnx", 0.95, 3.0)]
    )
    assert rows["onnx"]["speedup_measurable"] and rows["onnx"]["speedup_high"] < 1
    assert rows["savedmodel"]["speedup"] == 1.0 and rows["savedmodel"]["speedup_low"] is None
    assert not any(row["fastest"] for row in rows.values())
    assert "the quickest, onnx: 0.33×" in note


def test_records_without_timings_keep_the_point_estimate_and_ask_for_a_rerun(tmp_path):
    rows, note = conversion_notes(
        tmp_path,
        [
            fake_bench("savedmodel", 0.95, 2.0, spread=None),
            fake_bench("tflite_fp32", 0.95, 0.5),
            fake_bench("tensorrt_fp16", 0, 0, status="skipped"),
        ],
    )
    fp32 = rows["tflite_fp32"]
    assert fp32["speedup"] == pytest.approx(4.0)
    assert (fp32["speedup_low"], fp32["speedup_high"], fp32["speedup_measurable"]) == (
        None, None, False,
    )  # fmt: skip
    assert not fp32["fastest"]
    assert "the quickest, tflite_fp32: 4.00×, no interval: re-run the benchmark" in note
    assert "speedup" not in rows["tensorrt_fp16"]


def test_a_lone_savedmodel_within_tolerance_claims_nothing(tmp_path):
    rows, note = conversion_notes(
        tmp_path, [fake_bench("savedmodel", 0.95, 2.0), fake_bench("tflite_int8", 0.90, 0.2)]
    )
    assert rows["tflite_int8"]["speedup_measurable"] and rows["tflite_int8"]["flagged"]
    assert not any(row["fastest"] for row in rows.values())
    assert "no format but the SavedModel itself stayed within the accuracy tolerance" in note


def point(dataset: str, fmt: str, accuracy: float, p50: float) -> dict:
    return {"variant": "v", "format": fmt, "dataset": dataset, "accuracy": accuracy,
            "interval": (accuracy - 0.02, accuracy + 0.02), "p50_ms": p50}  # fmt: skip


def test_the_pareto_front_keeps_what_nothing_beats_on_both_counts_within_a_dataset():
    points = [
        point("mnist", "savedmodel", 0.98, 4.0),
        point("mnist", "onnx", 0.98, 1.0),  # as accurate, faster: beats savedmodel
        point("mnist", "onnx_int8", 0.97, 0.5),  # faster, less accurate: on the front too
        point("mnist", "tflite_int8", 0.96, 0.8),  # onnx_int8 is faster and more accurate
        point("flowers", "savedmodel", 0.80, 20.0),  # alone on its dataset: on its front
    ]
    deployment.mark_pareto(points)
    assert [p["format"] for p in points if p["pareto"]] == ["onnx", "onnx_int8", "savedmodel"]


def test_each_budget_names_the_most_accurate_choice_within_it_or_the_quickest():
    points = [point("mnist", "savedmodel", 0.98, 4.0), point("mnist", "onnx_int8", 0.97, 0.5)]
    assert deployment.best_within(points, 10)["format"] == "savedmodel"
    assert deployment.best_within(points, 2)["format"] == "onnx_int8"
    assert deployment.best_within(points, 0.1) is None
    deployment.mark_pareto(points)
    deployment.number_the_front(points)
    assert [p.get("label") for p in points] == ["1", "2"]  # both on the front
    sentence = deployment.budget_sentence("mnist", points, 2)
    assert sentence.startswith("Within 2 ms per image at batch 1 on this CPU, the most accurate")
    assert "v as onnx_int8: 97.00 % test accuracy (95 % interval 95.0–99.0 %), 0.50 ms" in sentence
    assert "the quickest, v as onnx_int8, takes 0.50 ms" in deployment.budget_sentence(
        "mnist", points, 0.1
    )


def test_the_deployment_section_follows_the_conversion_tables(tmp_path):
    config = validated(tiny_config())
    config["report"]["latency_budgets_ms"] = [0.5, 5]
    benchmarks = {
        ("cnn", "onnx"): bench("cnn", "onnx", p50=0.2, accuracy=0.95),
        ("cnn", "tflite_fp32"): bench("cnn", "tflite_fp32", p50=0.3, accuracy=0.94),
    }
    context = deployment.context(write_results(tmp_path, config, benchmarks=benchmarks))
    # the front, numbered as the chart labels it; tflite_fp32 is slower and less accurate
    assert [(p["format"], p["label"]) for p in context["front"]] == [("onnx", "1")]
    assert len(context["sentences"]) == 2  # one dataset converted, two budgets
    assert "the most accurate for mnist is cnn as onnx: 95.00 %" in context["sentences"][0]
    low, high = next(p for p in context["points"] if p["format"] == "onnx")["interval"]
    assert 0.91 < low < 0.95 < high < 0.98  # Wilson, 200 test images
    config["convert"]["variants"] = []
    assert deployment.context(write_results(tmp_path / "none", config)) is None
