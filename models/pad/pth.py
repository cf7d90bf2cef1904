"""A safe reader for PyTorch's legacy (pre-1.6, non-zip) `.pth` state dicts, without torch.

The legacy format is a sequence of pickles -- magic number, protocol version,
system info, the state dict (tensors refer to storages by persistent id), the
list of storage keys -- followed by each storage's raw bytes (an int64 element
count, then the elements, little-endian). Unpickling runs code a file names,
so this reader admits exactly the names a state dict needs (an OrderedDict,
the tensor rebuild function, the storage types) and refuses everything else.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class PthError(ValueError):
    """Not a legacy state dict this reader accepts."""


@dataclass
class _StorageRef:
    key: str
    dtype: type
    numel: int


@dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str):
        self.dtype = _STORAGE_DTYPES[name]


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise PthError(f"refusing to load {module}.{name}: not part of a plain state dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise PthError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel, *_ = pid
        if not isinstance(storage_type, _StorageType):
            raise PthError("storage of unknown type")
        return _StorageRef(str(key), storage_type.dtype, int(numel))


def _plain(data: bytes | io.BufferedIOBase) -> object:
    """A pickle that may hold only plain values (numbers, strings, dicts, lists)."""
    class Plain(pickle.Unpickler):
        def find_class(self, module, name):
            raise PthError(f"refusing {module}.{name} in a header pickle")
    return Plain(data).load()


def read_state_dict(path: Path | str) -> dict[str, np.ndarray]:
    """Parameter name -> array. The DataParallel prefix `module.` is removed."""
    raw = Path(path).read_bytes()
    f = io.BytesIO(raw)
    try:
        if _plain(f) != LEGACY_MAGIC:
            raise PthError(f"{path}: not a legacy PyTorch file (zip-format files are not supported)")
        _plain(f)  # protocol version
        info = _plain(f)
        if not isinstance(info, dict) or not info.get("little_endian", False):
            raise PthError(f"{path}: big-endian files are not supported")
        state = _StateDictUnpickler(f).load()
        keys = _plain(f)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise PthError(f"{path}: damaged file ({exc})") from None
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise PthError(f"{path}: not a state dict")
    storages: dict[str, np.ndarray] = {}
    refs = {t.storage.key: t.storage for t in state.values() if isinstance(t, _TensorRef)}
    for key in keys:
        (numel,) = struct.unpack("<q", f.read(8))
        ref = refs.get(str(key))
        if ref is None:
            raise PthError(f"{path}: storage {key} is not used by any tensor")
        nbytes = numel * np.dtype(ref.dtype).itemsize
        chunk = f.read(nbytes)
        if len(chunk) != nbytes:
            raise PthError(f"{path}: truncated storage {key}")
        storages[str(key)] = np.frombuffer(chunk, dtype=ref.dtype)
    out = {}
    for name, tensor in state.items():
        if not isinstance(tensor, _TensorRef):
            raise PthError(f"{path}: entry {name} is not a tensor")
        base = storages[tensor.storage.key]
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(base[tensor.offset:], shape=tensor.size,
                                               strides=tuple(s * item for s in tensor.stride))
        out[name.removeprefix("module.")] = np.array(view)  # own copy, contiguous
    return out
