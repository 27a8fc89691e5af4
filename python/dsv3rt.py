"""ctypes binding of libdsv3rt, the dsv3 AOT runtime (docs/runtime.md).

    import numpy as np, dsv3rt
    session = dsv3rt.Session("host")            # or "cuda"
    module = session.load("attn.so")
    module.bind("DeepSeek-V3/")                # or an index, a file, a list
    (q,) = module.call("attn_proj", np.zeros((4, 7168), ml_dtypes.bfloat16))
    kv = session.read_state("model.layers.0.self_attn.kv_cache.c_kv")

Tensors are numpy arrays: bf16 and f8 use the ml_dtypes dtypes (bfloat16,
float8_e4m3fn, float8_e8m0fnu), i1 is numpy bool. Every runtime error is
raised as dsv3rt.Error carrying the runtime's message.

The library is found through $DSV3RT_LIBRARY, else ../build/lib next to this
file, else $DSV3_BIN/../lib. It is loaded with RTLD_GLOBAL so that cuda
modules resolve their mgpu* imports against it.
"""

import ctypes
import os
import weakref
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

try:
    import ml_dtypes
except ImportError:  # bf16/f8 tensors then raise Error
    ml_dtypes = None

__all__ = ["Error", "Session", "Module", "Arg", "Bounds", "State", "library_path"]


class Error(RuntimeError):
    """A runtime error; str(e) is the runtime's message."""


# dsv3_dtype values (abi.h) and their metadata names.
DTYPES = ["f32", "f16", "bf16", "f8e4m3fn", "f8e8m0fnu", "i8", "i32", "i64", "i1"]
ROLES = ["input", "parameter", "output", "state"]


def _numpy_dtype(name: str) -> np.dtype:
    plain = {
        "f32": np.float32,
        "f16": np.float16,
        "i8": np.int8,
        "i32": np.int32,
        "i64": np.int64,
        "i1": np.bool_,
    }
    if name in plain:
        return np.dtype(plain[name])
    extra = {"bf16": "bfloat16", "f8e4m3fn": "float8_e4m3fn", "f8e8m0fnu": "float8_e8m0fnu"}
    if ml_dtypes is None or not hasattr(ml_dtypes, extra[name]):
        raise Error(f"dtype {name} needs the ml_dtypes package (with {extra[name]})")
    return np.dtype(getattr(ml_dtypes, extra[name]))


def _dsv3_dtype(dtype: np.dtype) -> int:
    for i, name in enumerate(DTYPES):
        try:
            if _numpy_dtype(name) == dtype:
                return i
        except Error:
            continue
    raise Error(f"numpy dtype {dtype} has no dsv3 dtype (supported: {', '.join(DTYPES)})")


# ---- the C API ----

_status = ctypes.c_void_p
_i64p = ctypes.POINTER(ctypes.c_int64)


class _ArgInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("role", ctypes.c_int),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_size_t),
        ("shape", _i64p),
    ]


class _ArgAttrs(ctypes.Structure):
    _fields_ = [
        ("stacked", ctypes.c_int),
        ("has_bounds", ctypes.c_int),
        ("bounds_min", ctypes.c_int64),
        ("bounds_max", ctypes.c_int64),
        ("bounds_why", ctypes.c_char_p),
    ]


class _StateInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_size_t),
        ("shape", _i64p),
    ]


_P = ctypes.c_void_p
_SIGNATURES = {
    "dsv3rt_status_message": (ctypes.c_char_p, [_status]),
    "dsv3rt_status_free": (None, [_status]),
    "dsv3rt_session_create": (_status, [ctypes.c_char_p, ctypes.POINTER(_P)]),
    "dsv3rt_session_destroy": (None, [_P]),
    "dsv3rt_session_device": (ctypes.c_char_p, [_P]),
    "dsv3rt_session_state_count": (ctypes.c_size_t, [_P]),
    "dsv3rt_session_state_info": (_status, [_P, ctypes.c_size_t, ctypes.POINTER(_StateInfo)]),
    "dsv3rt_session_read_state": (_status, [_P, ctypes.c_char_p, ctypes.POINTER(_P)]),
    "dsv3rt_session_write_state": (_status, [_P, ctypes.c_char_p, _P]),
    "dsv3rt_session_reset_state": (_status, [_P]),
    "dsv3rt_module_load": (_status, [_P, ctypes.c_char_p, ctypes.POINTER(_P)]),
    "dsv3rt_module_unload": (None, [_P]),
    "dsv3rt_module_target": (ctypes.c_char_p, [_P]),
    "dsv3rt_module_entry_count": (ctypes.c_size_t, [_P]),
    "dsv3rt_module_entry_name": (ctypes.c_char_p, [_P, ctypes.c_size_t]),
    "dsv3rt_module_find_entry": (
        _status,
        [_P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)],
    ),
    "dsv3rt_module_arg_count": (
        _status,
        [_P, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)],
    ),
    "dsv3rt_module_arg_info": (
        _status,
        [_P, ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(_ArgInfo)],
    ),
    "dsv3rt_module_arg_attrs": (
        _status,
        [_P, ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(_ArgAttrs)],
    ),
    "dsv3rt_module_bind_parameters": (
        _status,
        [_P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t],
    ),
    "dsv3rt_module_bind_entry_parameters": (
        _status,
        [_P, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t],
    ),
    "dsv3rt_module_call": (
        _status,
        [
            _P,
            ctypes.c_size_t,
            ctypes.POINTER(_P),
            ctypes.c_size_t,
            ctypes.POINTER(_P),
            ctypes.c_size_t,
        ],
    ),
    "dsv3rt_tensor_create": (
        _status,
        [ctypes.c_int, _i64p, ctypes.c_size_t, _P, ctypes.POINTER(_P)],
    ),
    "dsv3rt_tensor_destroy": (None, [_P]),
    "dsv3rt_tensor_dtype": (ctypes.c_int, [_P]),
    "dsv3rt_tensor_rank": (ctypes.c_size_t, [_P]),
    "dsv3rt_tensor_shape": (_i64p, [_P]),
    "dsv3rt_tensor_byte_size": (ctypes.c_size_t, [_P]),
    "dsv3rt_tensor_data": (_P, [_P]),
}


def library_path() -> str:
    """The libdsv3rt.so this module loads (see the module docstring)."""
    env = os.environ.get("DSV3RT_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, "..", "build", "lib", "libdsv3rt.so")]
    if os.environ.get("DSV3_BIN"):
        candidates.append(os.path.join(os.environ["DSV3_BIN"], "..", "lib", "libdsv3rt.so"))
    for c in candidates:
        if os.path.exists(c):
            return os.path.normpath(c)
    raise Error(
        "cannot find libdsv3rt.so: set DSV3RT_LIBRARY (looked in "
        + ", ".join(os.path.normpath(c) for c in candidates)
        + ")"
    )


_lib = None


def _api():
    global _lib
    if _lib is None:
        path = library_path()
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            raise Error(f"cannot load {path}: {e}") from None
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        _lib = lib
    return _lib


def _check(status) -> None:
    if status:
        lib = _api()
        message = lib.dsv3rt_status_message(status).decode("utf-8", "replace")
        lib.dsv3rt_status_free(status)
        raise Error(message)


def _to_tensor(array: np.ndarray) -> ctypes.c_void_p:
    """A new dsv3rt_tensor holding a copy of array (the caller destroys it)."""
    array = np.asarray(array, order="C")  # keeps rank 0, unlike ascontiguousarray
    dtype = _dsv3_dtype(array.dtype)
    shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
    out = _P()
    data = array.ctypes.data_as(_P)
    _check(_api().dsv3rt_tensor_create(dtype, shape, array.ndim, data, ctypes.byref(out)))
    return out


def _from_tensor(tensor) -> np.ndarray:
    """A numpy copy of a dsv3rt_tensor, which it destroys."""
    lib = _api()
    try:
        dtype = _numpy_dtype(DTYPES[lib.dsv3rt_tensor_dtype(tensor)])
        rank = lib.dsv3rt_tensor_rank(tensor)
        shape_ptr = lib.dsv3rt_tensor_shape(tensor)
        shape = tuple(shape_ptr[i] for i in range(rank))
        array = np.empty(shape, dtype)
        size = lib.dsv3rt_tensor_byte_size(tensor)
        if size:
            ctypes.memmove(array.ctypes.data, lib.dsv3rt_tensor_data(tensor), size)
        return array
    finally:
        lib.dsv3rt_tensor_destroy(tensor)


def _as_array(value, dtype_name: str) -> np.ndarray:
    """ndarrays keep their dtype (the runtime reports a mismatch); scalars and
    lists become arrays of the expected dtype."""
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(value, dtype=_numpy_dtype(dtype_name))


# ---- the Python API ----


@dataclass(frozen=True)
class Bounds:
    min: int
    max: int
    why: str


@dataclass(frozen=True)
class Arg:
    name: str
    role: str  # "input", "parameter", "output" or "state"
    dtype: str  # metadata spelling: "f32", "bf16", ...
    shape: Tuple[int, ...]
    stacked: bool = False  # parameter bound from per-expert tensors ("{e}")
    bounds: Optional[Bounds] = None  # i32/i64 inputs only


@dataclass(frozen=True)
class State:
    name: str
    dtype: str
    shape: Tuple[int, ...]


class Session:
    """A runtime session on "host" or "cuda"; owns the state buffers."""

    def __init__(self, device: str = "host"):
        lib = _api()
        self._lib = lib
        self._raw = _P()
        _check(lib.dsv3rt_session_create(device.encode(), ctypes.byref(self._raw)))
        self._modules = weakref.WeakSet()

    @property
    def device(self) -> str:
        return self._lib.dsv3rt_session_device(self._handle()).decode()

    def _handle(self):
        if not self._raw:
            raise Error("the session is closed")
        return self._raw

    def load(self, path: Union[str, os.PathLike]) -> "Module":
        module = Module(self, os.fspath(path))
        self._modules.add(module)
        return module

    def states(self) -> List[State]:
        """The states declared by the modules loaded so far."""
        h = self._handle()
        result = []
        for i in range(self._lib.dsv3rt_session_state_count(h)):
            info = _StateInfo()
            _check(self._lib.dsv3rt_session_state_info(h, i, ctypes.byref(info)))
            result.append(
                State(
                    info.name.decode(),
                    DTYPES[info.dtype],
                    tuple(info.shape[d] for d in range(info.rank)),
                )
            )
        return result

    def read_state(self, name: str) -> np.ndarray:
        out = _P()
        h = self._handle()
        _check(self._lib.dsv3rt_session_read_state(h, name.encode(), ctypes.byref(out)))
        return _from_tensor(out)

    def write_state(self, name: str, value) -> None:
        """value's dtype and shape must equal the state's."""
        if not isinstance(value, np.ndarray):
            known = {s.name: s for s in self.states()}
            if name in known:
                value = _as_array(value, known[name].dtype)
            else:
                value = np.asarray(value)
        tensor = _to_tensor(value)
        try:
            _check(self._lib.dsv3rt_session_write_state(self._handle(), name.encode(), tensor))
        finally:
            self._lib.dsv3rt_tensor_destroy(tensor)

    def reset_state(self) -> None:
        """Zero-fills every state."""
        _check(self._lib.dsv3rt_session_reset_state(self._handle()))

    def close(self) -> None:
        """Unloads the session's modules, then frees the session."""
        if self._raw:
            for m in list(self._modules):
                m.close()
            self._lib.dsv3rt_session_destroy(self._raw)
            self._raw = _P()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Module:
    """A loaded module; keeps its session alive."""

    def __init__(self, session: Session, path: str):
        self._session = session
        self._lib = session._lib
        self._raw = _P()
        s = session._handle()
        _check(self._lib.dsv3rt_module_load(s, path.encode(), ctypes.byref(self._raw)))
        self.path = path

    def _handle(self):
        if not self._raw:
            raise Error("the module is closed")
        return self._raw

    @property
    def target(self) -> str:
        return self._lib.dsv3rt_module_target(self._handle()).decode()

    @property
    def entries(self) -> List[str]:
        h = self._handle()
        count = self._lib.dsv3rt_module_entry_count(h)
        return [self._lib.dsv3rt_module_entry_name(h, i).decode() for i in range(count)]

    def _entry(self, entry: Union[str, int]) -> int:
        if isinstance(entry, int):
            return entry
        index = ctypes.c_size_t()
        h = self._handle()
        _check(self._lib.dsv3rt_module_find_entry(h, entry.encode(), ctypes.byref(index)))
        return index.value

    def args(self, entry: Union[str, int]) -> List[Arg]:
        h, e = self._handle(), self._entry(entry)
        count = ctypes.c_size_t()
        _check(self._lib.dsv3rt_module_arg_count(h, e, ctypes.byref(count)))
        result = []
        for i in range(count.value):
            info, attrs = _ArgInfo(), _ArgAttrs()
            _check(self._lib.dsv3rt_module_arg_info(h, e, i, ctypes.byref(info)))
            _check(self._lib.dsv3rt_module_arg_attrs(h, e, i, ctypes.byref(attrs)))
            bounds = None
            if attrs.has_bounds:
                bounds = Bounds(attrs.bounds_min, attrs.bounds_max, attrs.bounds_why.decode())
            result.append(
                Arg(
                    info.name.decode(),
                    ROLES[info.role],
                    DTYPES[info.dtype],
                    tuple(info.shape[d] for d in range(info.rank)),
                    bool(attrs.stacked),
                    bounds,
                )
            )
        return result

    def bind(
        self,
        paths: Union[str, bytes, os.PathLike, Sequence[Union[str, bytes, os.PathLike]]],
        entry: Union[str, int, None] = None,
    ) -> None:
        """Binds parameters of every entry, or only of `entry`, from one path
        or a list of paths: safetensors files, shard indexes
        (model.safetensors.index.json) or checkpoint directories. Replaces
        any previous binding."""
        # A single path is one path, not a sequence of characters.
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        raw = [os.fsencode(p) for p in paths]
        array = (ctypes.c_char_p * max(len(raw), 1))(*raw)
        if entry is None:
            _check(self._lib.dsv3rt_module_bind_parameters(self._handle(), array, len(raw)))
        else:
            e = self._entry(entry)
            _check(
                self._lib.dsv3rt_module_bind_entry_parameters(self._handle(), e, array, len(raw))
            )

    def call(self, entry: Union[str, int], *inputs) -> List[np.ndarray]:
        """Runs an entry on its role=input args (in order); returns its
        outputs. State args are the session's and are not passed."""
        e = self._entry(entry)
        args = self.args(e)
        in_args = [a for a in args if a.role == "input"]
        n_out = sum(a.role == "output" for a in args)
        tensors = []
        try:
            for i, value in enumerate(inputs):
                dtype = in_args[i].dtype if i < len(in_args) else "f32"
                tensors.append(_to_tensor(_as_array(value, dtype)))
            ins = (_P * max(len(tensors), 1))(*tensors)
            outs = (_P * max(n_out, 1))()
            _check(self._lib.dsv3rt_module_call(self._handle(), e, ins, len(tensors), outs, n_out))
        finally:
            for t in tensors:
                self._lib.dsv3rt_tensor_destroy(t)
        return [_from_tensor(outs[i]) for i in range(n_out)]

    def close(self) -> None:
        if self._raw:
            self._lib.dsv3rt_module_unload(self._raw)
            self._raw = _P()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
