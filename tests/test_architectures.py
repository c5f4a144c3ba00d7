"""Architecture comparison: GoogLeNet as in the paper, MAC counts that match the papers, measure.

Each large network is built once per module (fixtures); nothing here asserts on a real timing.
"""

from __future__ import annotations

import pytest

from tfedge.architectures import ARCHITECTURES, Architecture, Published, measure
from tfedge.keras_env import keras
from tfedge.models.compute import count_macs, count_weighted_layers, counted_macs

# What keras.applications itself reports (model.summary()'s "Total params") with the top.
KERAS_TOTAL_PARAMS = {"mobilenet_v2": 3_538_984, "inception_v3": 23_851_784}


def within(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance * target


@pytest.fixture(scope="module")
def googlenet() -> keras.Model:
    return ARCHITECTURES["googlenet"].builder()


@pytest.fixture(scope="module")
def mobilenet_v2() -> keras.Model:
    return ARCHITECTURES["mobilenet_v2"].builder()


@pytest.fixture(scope="module")
def inception_v3() -> keras.Model:
    return ARCHITECTURES["inception_v3"].builder()


def test_googlenet_matches_the_paper(googlenet):
    assert googlenet.output_shape == (None, 1000)
    assert within(googlenet.count_params(), 6.8e6, 0.10)
    assert within(count_macs(googlenet), 1.5e9, 0.10)
    convolutions = [layer for layer in googlenet.layers if type(layer).__name__ == "Conv2D"]
    assert len(convolutions) == 3 + 9 * 6  # stem, then six convs in each of nine modules
    assert googlenet.get_layer("inception_5b_output").output_shape == (None, 7, 7, 1024)


@pytest.mark.parametrize(
    ("name", "published_macs"),
    [("mobilenet_v2", 300e6), pytest.param("inception_v3", 5.7e9, marks=pytest.mark.slow)],
)
def test_keras_networks_match_keras_and_the_papers(name, published_macs, request):
    model = request.getfixturevalue(name)
    published = ARCHITECTURES[name].published
    assert model.count_params() == KERAS_TOTAL_PARAMS[name]
    assert within(model.count_params(), published.params, 0.05)
    assert within(count_macs(model), published_macs, 0.10)


def tiny_model() -> keras.Model:
    """A nested model with one of each counted layer, small enough to count by hand."""
    layers = keras.layers
    inner_input = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inner_input)
    inner = keras.Model(inner_input, layers.DepthwiseConv2D(3, padding="same")(x))
    image = keras.Input((8, 8, 3))
    x = layers.SeparableConv2D(6, 3)(inner(image))
    x = layers.Conv2D(4, 1, groups=2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, layers.Dense(5)(x))


def test_count_macs_matches_a_hand_count():
    conv = 8 * 8 * (3 * 3) * 3 * 4
    depthwise = 8 * 8 * (3 * 3) * 4 * 1
    separable = 6 * 6 * (3 * 3) * 4 + 6 * 6 * 4 * 6  # depthwise over 6x6 valid, then pointwise
    grouped = 6 * 6 * 1 * (6 // 2) * 4
    dense = 4 * 5
    model = tiny_model()
    assert count_macs(model) == conv + depthwise + separable + grouped + dense
    assert count_weighted_layers(model) == 5


def test_measure_reports_the_fake_clocks_median_and_a_tflite_size(monkeypatch):
    published = Published(1, 2, 3.0, "none")
    monkeypatch.setitem(ARCHITECTURES, "tiny", Architecture(tiny_model, 8, published))
    ticks = iter([0.0, 0.001, 1.0, 1.003, 2.0, 2.002])  # calls of 1 ms, 3 ms and 2 ms
    result = measure("tiny", repeats=3, warmup=1, clock=lambda: next(ticks))
    assert result["latency_p50_ms"] == pytest.approx(2.0)
    low, high = result["latency_p50_interval_ms"]
    assert 1.0 <= low <= 2.0 <= high <= 3.0 and low < high
    assert result["params"] == tiny_model().count_params()
    # Every weight stored as fp32, plus the graph: a few kB for a model this small.
    assert 4 * result["params"] < result["tflite_fp32_bytes"] < 4 * result["params"] + 20_000
    assert result["layers"] == 5
    assert result["published"] == {"params": 1, "macs": 2, "top1": 3.0, "citation": "none"}


def test_a_layer_the_count_cannot_see_into_gives_no_count():
    """A TF Hub layer hides its convolutions: no count rather than an undercount."""
    inputs = keras.Input((8, 8, 3))

    class Opaque(keras.layers.Layer):
        def build(self, shape):
            self.kernel = self.add_weight(name="kernel", shape=(3, 4))

        def call(self, x):
            return x

    seen = keras.layers.Dense(4)(keras.layers.BatchNormalization()(inputs))
    assert counted_macs(keras.Model(inputs, seen)) == 8 * 8 * 3 * 4
    assert counted_macs(keras.Model(inputs, Opaque()(inputs))) is None
