"""ctypes binding of libdsv3rt, the dsv3 AOT runtime (docs/runtime.md).

    import numpy as np, dsv3rt
    session = dsv3rt.Session("host")            # or "cuda"
    module = session.load("attn.so")
    module.bind("DeepSeek-V3/")                # one path (dir, index, file) or a list/tuple
    (q,) = module.call("attn_proj", np.zeros((4, 7168), ml_dtypes.bfloat16))
    out = module.call("decode", input_ids=ids, positions=pos,   # inputs by name
                      start_pos=start, kv_len=kv_len)           # (or one dict)
    logits = out["logits"]                     # outputs by name, or out[0]
    kv = session.read_state("model.layers.0.self_attn.kv_cache.c_kv")

    # A whole-model module (dsv3-import): token ids in, token ids out.
    for token in session.generate(model, [186, 0, 30], max_new_tokens=32,
                                  temperature=0.8, top_p=0.95, seed=7):
        print(token)

Tensors are numpy arrays: bf16 and f8 use the ml_dtypes dtypes (bfloat16,
float8_e4m3fn, float8_e8m0fnu), i1 is numpy bool. Every runtime error is
raised as dsv3rt.Error carrying the runtime's message.

Module.call converts its inputs (see its docstring): lists and scalars take
the input's dtype; a float array is converted when the input's dtype holds
every value (f16/bf16/f8 -> f32, ...), a narrowing one (f64 -> f32, f32 ->
bf16 or f8) only with call(..., allow_narrowing=True); an integer array is
converted when every value fits the input's integer dtype, never wrapped;
anything else is an Error naming the entry, the input and both dtypes. It
returns an Outputs: a list (unpack it or index it as before) that also
gives an output by name.

Install with `pip install -e python/` (python/pyproject.toml) to import
dsv3rt and run `python -m dsv3` without sys.path inserts. The library is
found through $DSV3RT_LIBRARY, else ../build/lib next to this file (so an
editable install needs nothing more), else $DSV3_BIN/../lib. It is loaded
with RTLD_GLOBAL so that cuda modules resolve their mgpu* imports against
it.
"""

import ctypes
import numbers
import os
import sys
import time
import weakref
from dataclasses import dataclass
from typing import (Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np

try:
    import ml_dtypes
except ImportError:  # bf16/f8 tensors then raise Error
    ml_dtypes = None

__all__ = ["Error", "Session", "Module", "Outputs", "Arg", "Bounds", "State", "Sampler",
           "library_path"]


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


class _KernelStat(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("launches", ctypes.c_uint64),
        ("total_ms", ctypes.c_double),
    ]


class _KernelCost(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("bytes", ctypes.c_uint64),
        ("flops", ctypes.c_uint64),
    ]


_COST_UNKNOWN = 2**64 - 1


class _ParameterSharing(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("same_as", ctypes.c_char_p),
        ("identical", ctypes.c_int),
        ("bytes", ctypes.c_uint64),
    ]


class BindProgress(ctypes.Structure):
    """How far a bind has come (dsv3rt_bind_progress): files mapped of those
    known so far and their bytes, then parameters bound and their bytes
    (parameters_total is 0 until the files are mapped)."""

    _fields_ = [
        ("files_done", ctypes.c_size_t),
        ("files_total", ctypes.c_size_t),
        ("file_bytes_done", ctypes.c_uint64),
        ("file_bytes_total", ctypes.c_uint64),
        ("parameters_done", ctypes.c_size_t),
        ("parameters_total", ctypes.c_size_t),
        ("parameter_bytes_done", ctypes.c_uint64),
        ("parameter_bytes_total", ctypes.c_uint64),
    ]

    def __str__(self):
        if self.parameters_total == 0:
            return (f"{self.files_done}/{self.files_total} files mapped "
                    f"({_bytes(self.file_bytes_done, self.file_bytes_total)})")
        return (f"{self.files_done} files mapped ({_bytes(None, self.file_bytes_done)}); "
                f"{self.parameters_done}/{self.parameters_total} parameters bound "
                f"({_bytes(self.parameter_bytes_done, self.parameter_bytes_total)})")


def _bytes(done, total):
    """'88.1/688.6 GB' (decimal units; a pair in the total's unit)."""
    scale, unit = next(((s, u) for s, u in [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
                        if total >= s), (1, "B"))
    d = 1 if scale > 1 else 0  # no "24.0 B"
    return (f"{total / scale:.{d}f} {unit}" if done is None
            else f"{done / scale:.{d}f}/{total / scale:.{d}f} {unit}")


_BIND_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(BindProgress), ctypes.c_void_p)

_P = ctypes.c_void_p
_SIGNATURES = {
    "dsv3rt_status_message": (ctypes.c_char_p, [_status]),
    "dsv3rt_status_free": (None, [_status]),
    "dsv3rt_session_create": (_status, [ctypes.c_char_p, ctypes.POINTER(_P)]),
    "dsv3rt_session_destroy": (None, [_P]),
    "dsv3rt_session_device": (ctypes.c_char_p, [_P]),
    "dsv3rt_session_set_threads": (_P, [_P, ctypes.c_int]),
    "dsv3rt_session_threads": (ctypes.c_int, [_P]),
    "dsv3rt_session_set_kernel_profiling": (_status, [_P, ctypes.c_int]),
    "dsv3rt_session_kernel_stat_count": (ctypes.c_size_t, [_P]),
    "dsv3rt_session_kernel_stat": (_status, [_P, ctypes.c_size_t, ctypes.POINTER(_KernelStat)]),
    "dsv3rt_module_kernel_cost_count": (ctypes.c_size_t, [_P]),
    "dsv3rt_module_kernel_cost": (_status, [_P, ctypes.c_size_t, ctypes.POINTER(_KernelCost)]),
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
    "dsv3rt_module_set_bind_progress": (_status, [_P, _BIND_PROGRESS_FN, _P]),
    "dsv3rt_module_parameter_sharing_count": (ctypes.c_size_t, [_P]),
    "dsv3rt_module_parameter_sharing": (
        _status, [_P, ctypes.c_size_t, ctypes.POINTER(_ParameterSharing)]),
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
    # build/ first: a sanitized build's library (lit's DSV3_BIN under
    # scripts/test.sh --sanitize) cannot be loaded into an uninstrumented
    # python; its tools still run sanitized.
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


def _describe(dtype_name: str, shape) -> str:
    """'f32[2,3]', as the runtime spells a tensor type (-1: '?')."""
    return dtype_name + "[" + ",".join("?" if d == -1 else str(d) for d in shape) + "]"


def _source_name(dtype: np.dtype) -> str:
    """A numpy dtype's dsv3 name if it has one, else numpy's ('float64')."""
    try:
        return DTYPES[_dsv3_dtype(dtype)]
    except Error:
        return str(dtype)


# Exact widenings between float dtypes: every value of the source is a value
# of the target. Any other float -> float conversion narrows.
_FLOAT_WIDENS = {
    "f16": ("f32",),
    "bf16": ("f32",),
    "f8e4m3fn": ("f16", "bf16", "f32"),
    "f8e8m0fnu": ("bf16", "f32"),
}
_FLOAT_TARGETS = ("f32", "f16", "bf16", "f8e4m3fn", "f8e8m0fnu")
_INT_TARGETS = ("i8", "i32", "i64")


def _is_float(dtype: np.dtype) -> bool:
    if dtype.kind == "f":
        return True
    if ml_dtypes is None or dtype.kind != "V":
        return False
    try:  # bfloat16, float8_*: numpy kind "V"
        ml_dtypes.finfo(dtype)
        return True
    except Exception:
        return False


def _int_range_error(values, target: str) -> Optional[str]:
    """Why values (integers, or a literal's floats) do not all fit the
    integer dtype target, or None when they do."""
    info = np.iinfo(_numpy_dtype(target))
    flat = np.asarray(values).reshape(-1)
    if flat.size == 0:
        return None
    if flat.dtype.kind in "iub":
        if info.min <= int(flat.min()) and int(flat.max()) <= info.max:
            return None
    elif flat.dtype.kind == "f":
        if (np.isfinite(flat).all() and (flat == np.floor(flat)).all()
                and info.min <= flat.min() and flat.max() < float(info.max) + 1):
            return None
    # Find the first bad element, comparing Python numbers (exact).
    for i, v in enumerate(flat.tolist()):
        if isinstance(v, bool):
            v = int(v)
        if not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
            return f"element [{i}] = {v} is not an integer"
        if not info.min <= v <= info.max:
            return (f"element [{i}] = {int(v)} is outside the {target} range "
                    f"[{info.min}, {info.max}] (integers are never wrapped)")
    return None


def _is_literal(value) -> bool:
    """Lists, tuples and scalars (Python or numpy) are literals: converted to
    the argument's dtype. Anything else (ndarrays, objects numpy reads as
    arrays) keeps its dtype unless the conversion rules allow one."""
    return isinstance(value, (list, tuple, numbers.Number, np.generic))


def _literal_array(value, dtype_name: str) -> np.ndarray:
    """A list, tuple or scalar as an array of dtype_name: floats and bools
    take any value; integer dtypes take integral values in range only."""
    target = _numpy_dtype(dtype_name)
    if dtype_name in _INT_TARGETS:
        array = np.asarray(value)
        if array.dtype.kind not in "iub" or not np.can_cast(array.dtype, target):
            why = _int_range_error(array, dtype_name)
            if why:
                raise Error(why)
        return np.asarray(array, dtype=target)
    return np.asarray(value, dtype=target)


def _input_array(value, arg: "Arg", entry: str, index: int, allow_narrowing: bool) -> np.ndarray:
    """value as the array passed for input arg (see Module.call): literals
    take arg's dtype; arrays keep theirs, or are converted when the target
    holds every value (float widening, integers checked against the range)
    or, for floats, when allow_narrowing; anything else raises Error."""
    where = f'entry "{entry}": input {index} ("{arg.name}")'
    if _is_literal(value):
        try:
            return _literal_array(value, arg.dtype)
        except Error as e:
            raise Error(f"{where}: expected {_describe(arg.dtype, arg.shape)}: {e}") from None
    array = np.asarray(value)
    target = _numpy_dtype(arg.dtype)
    if array.dtype == target:
        return array
    native = array.dtype.newbyteorder("=")  # byte order does not change the values
    if native == target:
        return array.astype(target)
    source = _source_name(native)
    got = f"{where}: expected {_describe(arg.dtype, arg.shape)}, got {_describe(source, array.shape)}"
    if _is_float(array.dtype) and arg.dtype in _FLOAT_TARGETS:
        if arg.dtype in _FLOAT_WIDENS.get(source, ()) or allow_narrowing:
            return array.astype(target)
        raise Error(f"{got}; {source} -> {arg.dtype} loses precision or range: pass an "
                    f"{arg.dtype} array or call(..., allow_narrowing=True)")
    if array.dtype.kind in "iu" and arg.dtype in _INT_TARGETS:
        if not np.can_cast(array.dtype, target):
            why = _int_range_error(array, arg.dtype)
            if why:
                raise Error(f"{got}: {why}")
        return array.astype(target)
    raise Error(f"{got} ({source} arrays are not converted to {arg.dtype})")


def _as_array(value, dtype_name: str) -> np.ndarray:
    """ndarrays keep their dtype (the runtime reports a mismatch); lists and
    scalars become arrays of the expected dtype (see _literal_array)."""
    if isinstance(value, np.ndarray):
        return value
    return _literal_array(value, dtype_name)


def _paths(paths) -> list:
    """Module.bind's paths as a list: one str, bytes or os.PathLike path is
    one path (not a sequence of characters), a list or tuple holds several."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [paths]
    what = "a str, bytes or os.PathLike path or a list/tuple of them"
    if not isinstance(paths, (list, tuple)):
        raise TypeError(f"Module.bind: paths must be {what}, got {type(paths).__name__}")
    for i, p in enumerate(paths):
        if not isinstance(p, (str, bytes, os.PathLike)):
            raise TypeError(f"Module.bind: paths[{i}] is a {type(p).__name__}; paths must be {what}")
    return list(paths)


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


class Outputs(list):
    """An entry's outputs (Module.call): a list in the entry's order, so
    `(y,) = module.call(...)`, `a, b = ...` and `outs[0]` work, that also
    gives an output by its metadata name: `outs["logits"]`. `names` holds
    the names in order, `as_dict()` a {name: array} dict and `name in outs`
    tests a name."""

    def __init__(self, names: Sequence[str], arrays: Sequence[np.ndarray]):
        super().__init__(arrays)
        self.names = tuple(names)

    def _index(self, name: str) -> int:
        hits = [i for i, n in enumerate(self.names) if n == name]
        if len(hits) != 1:
            why = "no output" if not hits else f"{len(hits)} outputs"
            raise KeyError(f'{why} named "{name}" (outputs: {", ".join(self.names) or "none"})')
        return hits[0]

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(self._index(key))
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        if isinstance(key, str):
            return key in self.names
        return any(x is key for x in self)

    def as_dict(self) -> Dict[str, np.ndarray]:
        return dict(zip(self.names, self))

    def __repr__(self) -> str:
        return "Outputs(" + ", ".join(f"{n}={a!r}" for n, a in zip(self.names, self)) + ")"


class Session:
    """A runtime session on "host" or "cuda"; owns the state buffers."""

    def __init__(self, device: str = "host", threads: int = 0):
        lib = _api()
        self._lib = lib
        self._raw = _P()
        _check(lib.dsv3rt_session_create(device.encode(), ctypes.byref(self._raw)))
        self._modules = weakref.WeakSet()
        if threads:
            self.threads = threads

    @property
    def device(self) -> str:
        return self._lib.dsv3rt_session_device(self._handle()).decode()

    @property
    def threads(self) -> int:
        """Threads of host calls; 0 means libomp's default (OMP_NUM_THREADS,
        else one per core). Results do not depend on it."""
        return self._lib.dsv3rt_session_threads(self._handle())

    @threads.setter
    def threads(self, n: int) -> None:
        _check(self._lib.dsv3rt_session_set_threads(self._handle(), int(n)))

    def set_kernel_profiling(self, enabled: bool) -> None:
        """Cuda sessions: time every kernel launch of later calls with CUDA
        events; enabling or disabling clears the profile (see dsv3rt.h)."""
        _check(self._lib.dsv3rt_session_set_kernel_profiling(self._handle(), int(bool(enabled))))

    def kernel_stats(self) -> List[Tuple[str, int, float]]:
        """(kernel name, launches, total device ms) per kernel launched since
        the profile was cleared, in order of first launch."""
        out = []
        for i in range(self._lib.dsv3rt_session_kernel_stat_count(self._handle())):
            k = _KernelStat()
            _check(self._lib.dsv3rt_session_kernel_stat(self._handle(), i, ctypes.byref(k)))
            out.append((k.name.decode(), int(k.launches), float(k.total_ms)))
        return out

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
                try:
                    value = _as_array(value, known[name].dtype)
                except Error as e:
                    raise Error(f'state "{name}" is {_describe(known[name].dtype, known[name].shape)}: '
                                f"{e}") from None
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

    def generate(
        self,
        module: "Module",
        prompt_ids: Iterable[int],
        max_new_tokens: int,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        stop_ids: Iterable[int] = (),
    ) -> Iterator[int]:
        """Generates token ids with a whole-model module (dsv3-import: entries
        prefill and decode sharing the KV cache states of this session) whose
        parameters are bound. Returns an iterator over the new ids, each
        yielded as soon as it is sampled; a stop id ends generation (and is
        yielded). Everything is validated here, before anything runs (empty
        prompt, ids outside the vocabulary, prompt + max_new_tokens beyond
        the caches, bad sampling options); the session's states are reset
        first. The prompt goes through prefill in chunks of its static token
        count, the remainder through decode. Sampling is Sampler's, in
        float64 on the host logits; it follows the same algorithm and PRNG as
        libdsv3rt's C++ Generator (lib/Runtime/Generate.h), so a seed gives
        the same ids in both (up to last-bit differences of exp)."""
        model = _Model(module)
        prompt = [int(t) for t in prompt_ids]
        stops = {int(t) for t in stop_ids}
        model.validate(prompt, int(max_new_tokens), stops)
        sampler = Sampler(temperature, top_k, top_p, seed)
        self.reset_state()
        return model.generate(prompt, int(max_new_tokens), sampler, stops)

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
        self._args = {}  # entry index -> List[Arg]; the metadata never changes

    def _handle(self):
        if not self._raw:
            raise Error("the module is closed")
        return self._raw

    @property
    def target(self) -> str:
        return self._lib.dsv3rt_module_target(self._handle()).decode()

    def kernel_costs(self) -> List[Tuple[str, Optional[int], Optional[int]]]:
        """(kernel name, bytes, flops) per launch of each cuda kernel whose
        cost the compiler recorded (None: that count is not known)."""
        h = self._handle()
        out = []
        for i in range(self._lib.dsv3rt_module_kernel_cost_count(h)):
            k = _KernelCost()
            _check(self._lib.dsv3rt_module_kernel_cost(h, i, ctypes.byref(k)))
            known = lambda v: None if v == _COST_UNKNOWN else int(v)
            out.append((k.name.decode(), known(k.bytes), known(k.flops)))
        return out

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
        if e in self._args:
            return list(self._args[e])
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
        self._args[e] = result
        return list(result)

    def bind(
        self,
        paths: Union[str, bytes, os.PathLike, Sequence[Union[str, bytes, os.PathLike]]],
        entry: Union[str, int, None] = None,
        progress: Union[bool, Callable[[BindProgress], None], None] = None,
    ) -> None:
        """Binds parameters of every entry, or only of `entry`, from one path
        or a list of paths: safetensors files, shard indexes
        (model.safetensors.index.json) or checkpoint directories. Replaces
        any previous binding.

        progress: True prints the bind's progress on stderr from the start
        (a line a second, rewritten on a terminal, then the totals); None
        (the default) does so only for a bind that takes over 2 s with
        stderr a terminal, or from the start with DSV3_PROGRESS=1 in the
        environment (DSV3_PROGRESS=0: never); False never; a callable is
        called with each BindProgress (valid only during the call) instead,
        on the binding thread. An exception it raises is re-raised after the
        bind."""
        raw = [os.fsencode(p) for p in _paths(paths)]
        array = (ctypes.c_char_p * max(len(raw), 1))(*raw)
        e = None if entry is None else self._entry(entry)
        report = _progress_reporter(progress)
        failure = []

        def on_progress(p, _):
            if failure:
                return
            try:
                report(p.contents)
            except BaseException as exc:  # noqa: B902 - re-raised below
                failure.append(exc)

        callback = _BIND_PROGRESS_FN(on_progress) if report else None
        if callback:
            _check(self._lib.dsv3rt_module_set_bind_progress(self._handle(), callback, None))
        try:
            if e is None:
                _check(self._lib.dsv3rt_module_bind_parameters(self._handle(), array, len(raw)))
            else:
                _check(self._lib.dsv3rt_module_bind_entry_parameters(
                    self._handle(), e, array, len(raw)))
        finally:
            if callback:
                _check(self._lib.dsv3rt_module_set_bind_progress(
                    self._handle(), _BIND_PROGRESS_FN(), None))
                done = getattr(report, "done", None)
                if done:
                    done()
        if failure:
            raise failure[0]

    def parameter_sharing(self) -> List[Tuple[str, str, bool, int]]:
        """(name, same_as, identical, bytes) for each parameter the metadata
        marks as a possible copy of another (the MTP layer's embed_tokens and
        shared_head.head): identical means the bound checkpoint's bytes were
        equal and the parameter reads the other's memory."""
        out = []
        for i in range(self._lib.dsv3rt_module_parameter_sharing_count(self._handle())):
            s = _ParameterSharing()
            _check(self._lib.dsv3rt_module_parameter_sharing(self._handle(), i, ctypes.byref(s)))
            out.append((s.name.decode(), s.same_as.decode(), bool(s.identical), s.bytes))
        return out

    def call(self, entry: Union[str, int], /, *inputs, allow_narrowing: bool = False,
             **named) -> Outputs:
        """Runs an entry on its role=input args and returns its outputs as
        an Outputs: a list in the entry's order that also gives an output by
        name (outs["logits"]). State args are the session's and are not
        passed.

        Inputs go by position (the entry's input order), by name as keyword
        arguments (call("decode", input_ids=ids, positions=pos, ...)) or as
        one dict {name: value}; positional ones fill the first inputs, names
        the rest. An unknown, repeated or missing input is an Error.

        Values: lists and scalars are converted to the input's dtype
        (integer inputs take integral values in range only). Arrays of the
        input's dtype pass as they are; float arrays are converted when the
        input's dtype holds every value (f16, bf16 or f8 -> f32; f8e4m3fn ->
        f16 or bf16); a narrowing float conversion (f64 -> f32, f32 -> bf16,
        f32 -> f8, f16 <-> bf16) only with allow_narrowing=True (rounding to
        nearest; out of range becomes inf, or NaN for f8); integer arrays are
        converted to an integer input's dtype when every value fits, never
        wrapped (even with allow_narrowing). Anything else (integers to a
        float input, floats to an integer input, f64 without the flag) is an
        Error naming the entry, the input, the array's dtype and the
        expected one."""
        e = self._entry(entry)
        args = self.args(e)
        name = self.entries[e] if isinstance(entry, int) else entry
        in_args = [a for a in args if a.role == "input"]
        out_args = [a for a in args if a.role == "output"]
        values = self._inputs(name, in_args, inputs, named)
        tensors = []
        try:
            for i, value in enumerate(values):
                tensors.append(_to_tensor(_input_array(value, in_args[i], name, i, allow_narrowing)))
            ins = (_P * max(len(tensors), 1))(*tensors)
            n_out = len(out_args)
            outs = (_P * max(n_out, 1))()
            _check(self._lib.dsv3rt_module_call(self._handle(), e, ins, len(tensors), outs, n_out))
        finally:
            for t in tensors:
                self._lib.dsv3rt_tensor_destroy(t)
        return Outputs([a.name for a in out_args], [_from_tensor(outs[i]) for i in range(n_out)])

    @staticmethod
    def _inputs(entry: str, in_args: List[Arg], inputs: tuple, named: dict) -> list:
        """The call's input values in the entry's order (see call)."""
        if len(inputs) == 1 and isinstance(inputs[0], Mapping):
            given = dict(inputs[0])
            for k, v in named.items():
                if k in given:
                    raise Error(f'input "{k}" is given twice (in the dict and by keyword)')
                given[k] = v
            inputs, named = (), given
        names = [a.name for a in in_args]
        listed = ", ".join(names) or "none"
        if len(inputs) > len(in_args) or (not named and len(inputs) != len(in_args)):
            raise Error(f'entry "{entry}" takes {len(in_args)} input(s) ({listed}), '
                        f"got {len(inputs) + len(named)}")
        values = list(inputs) + [None] * (len(in_args) - len(inputs))
        for key, value in named.items():
            if names.count(key) != 1:
                raise Error(f'entry "{entry}" has '
                            + ("no input" if key not in names else "several inputs")
                            + f' named "{key}" (inputs: {listed})')
            i = names.index(key)
            if i < len(inputs):
                raise Error(f'entry "{entry}": input "{key}" is given both by position and by name')
            values[i] = value
        missing = [n for i, n in enumerate(names) if i >= len(inputs) and n not in named]
        if missing:
            raise Error(f'entry "{entry}": missing input' + ("s " if len(missing) > 1 else " ")
                        + ", ".join(f'"{n}"' for n in missing) + f" (inputs: {listed})")
        return values

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


# ---- generation ----


class _MT19937_64:
    """std::mt19937_64 (its output is fixed by the C++ standard), so that a
    seed draws the same numbers here as in libdsv3rt's C++ Sampler."""

    _MASK = (1 << 64) - 1
    _UPPER, _LOWER = 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed: int):
        mt = [int(seed) & self._MASK]
        for i in range(1, 312):
            prev = mt[-1]
            mt.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & self._MASK)
        self._mt, self._index = mt, 312

    def _twist(self):
        mt = self._mt
        for i in range(312):
            x = (mt[i] & self._UPPER) | (mt[(i + 1) % 312] & self._LOWER)
            xa = x >> 1
            if x & 1:
                xa ^= 0xB5026F5AA96619E9
            mt[i] = mt[(i + 156) % 312] ^ xa
        self._index = 0

    def next(self) -> int:
        if self._index >= 312:
            self._twist()
        y = self._mt[self._index]
        self._index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & self._MASK

    def uniform(self) -> float:
        """Uniform in [0, 1): the top 53 bits of one draw, times 2^-53."""
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)


class _StderrProgress:
    """Prints bind progress on stderr (see Module.bind): from the start when
    `always`, else only once the bind has taken 2 s; at most a line a second
    (rewritten on a terminal); with `always`, a last line with the totals."""

    def __init__(self, always: bool):
        self.always, self.tty = always, sys.stderr.isatty()
        self.start = time.monotonic()
        self.next = self.start + (1.0 if always else 2.0)
        self.last, self.printed = None, False

    def __call__(self, p: BindProgress) -> None:
        self.last = str(p)
        now = time.monotonic()
        if now >= self.next:
            self._print(f"{self.last}; {now - self.start:.0f} s")
            self.next = now + 1.0

    def _print(self, text, final=False):
        end = "\n" if final or not self.tty else ""
        sys.stderr.write(("\r" if self.tty and self.printed else "") + f"dsv3rt: bind: {text}"
                         + ("\x1b[K" if self.tty else "") + end)
        sys.stderr.flush()
        self.printed = True

    def done(self):
        if self.always and self.last is not None:
            self._print(f"done: {self.last} in {time.monotonic() - self.start:.2f} s", final=True)
        elif self.printed and self.tty:
            sys.stderr.write("\n")


def _progress_reporter(progress):
    """The progress callback Module.bind uses, or None for none."""
    if callable(progress):
        return progress
    if progress is None:
        env = os.environ.get("DSV3_PROGRESS", "")
        if env == "0":
            return None
        if env:
            return _StderrProgress(always=True)
        return _StderrProgress(always=False) if sys.stderr.isatty() else None
    return _StderrProgress(always=True) if progress else None


class Sampler:
    """Picks the next token from a logits vector, as libdsv3rt's C++ Sampler
    (lib/Runtime/Generate.h, docs/generate.md):

    * temperature 0 or top_k 1: argmax, ties to the lowest id (no draw);
    * otherwise p_i = exp((l_i - max) / temperature), in float64, over the
      top_k largest logits (0: all; ties to lower ids), cut to the nucleus
      (a candidate, in decreasing logit order, is kept iff the mass before it
      is < top_p of the total), then one draw u of a seeded mt19937_64 picks
      the first candidate whose cumulative mass exceeds u * (kept mass)."""

    def __init__(self, temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0, seed: int = 0):
        temperature, top_p = float(temperature), float(top_p)
        if not (temperature >= 0) or np.isinf(temperature):
            raise Error(f"temperature {temperature:g} is not a finite number >= 0 (0 is greedy)")
        if int(top_k) != top_k or top_k < 0:
            raise Error(f"top-k {top_k} is negative (0 keeps every token)")
        if not (0 < top_p <= 1):
            raise Error(f"top-p {top_p:g} is outside (0, 1] (1 keeps every token)")
        if int(seed) != seed or seed < 0:
            raise Error(f"seed {seed} is not an integer >= 0")
        self.temperature, self.top_k, self.top_p = temperature, int(top_k), top_p
        self._rng = _MT19937_64(int(seed))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0 or self.top_k == 1

    def _candidates(self, logits):
        """(ids, weights) in walk order; see the class docstring."""
        logits = np.asarray(logits, np.float32).reshape(-1)
        if logits.size == 0:
            raise Error("cannot sample from an empty logits vector")
        nan = np.flatnonzero(np.isnan(logits))
        if nan.size:
            raise Error(
                f"logits contain NaN (token id {nan[0]}): the model produced an invalid result"
            )
        if self.greedy:
            return np.array([int(np.argmax(logits))]), np.ones(1)
        n = logits.size
        values = logits.astype(np.float64)
        ids = np.arange(n)
        ranked = 0 < self.top_k < n
        if ranked:  # decreasing logit, ties to the lower id
            ids = np.lexsort((ids, -values))[: self.top_k]
        cand = values[ids]
        top = cand.max()
        if np.isinf(top):  # +inf logits share all the mass
            w = (cand == top).astype(np.float64)
        else:
            w = np.exp((cand - top) / self.temperature)
        if self.top_p < 1:
            total = np.cumsum(w)[-1]  # sequential, as the C++ sum
            if not ranked:
                order = np.lexsort((ids, -cand))
                ids, w = ids[order], w[order]
            before = np.concatenate(([0.0], np.cumsum(w)[:-1]))
            kept = int(np.count_nonzero(before < self.top_p * total))
            ids, w = ids[:kept], w[:kept]
        return ids, w

    def distribution(self, logits) -> List[Tuple[int, float]]:
        """(id, probability) pairs the next draw picks from, in walk order."""
        ids, w = self._candidates(logits)
        total = np.cumsum(w)[-1]
        return [(int(i), float(x / total)) for i, x in zip(ids, w)]

    def sample(self, logits) -> int:
        ids, w = self._candidates(logits)
        if self.greedy:
            return int(ids[0])
        cum = np.cumsum(w)
        target = self._rng.uniform() * cum[-1]
        i = int(np.searchsorted(cum, target, side="right"))
        if i >= len(ids):  # u * total rounded up: the last candidate with mass
            i = int(np.flatnonzero(w > 0)[-1])
        return int(ids[i])


class _Model:
    """The prefill/decode entries of a whole-model module (dsv3-import), as
    libdsv3rt's C++ Generator reads them: P tokens per prefill call, V
    logits, caches of L rows."""

    _INPUTS = ("input_ids", "positions", "start_pos", "kv_len")
    MAX_PREFILL_CHUNK = 512
    _CONTRACT = (
        "generation needs a whole-model module from dsv3-import with entries "
        "prefill(input_ids i64[1,P], positions i64[1,P], start_pos i64[1], kv_len i64[1]) "
        "-> logits f32[1,V] and decode(input_ids i64[1,1], positions i64[1,1], "
        "start_pos i64[1], kv_len i64[1]) -> logits f32[1,V]"
    )

    def __init__(self, module: "Module"):
        self.module = module
        entries = module.entries
        rows = {}
        self.vocab = None
        for name in ("prefill", "decode"):
            if name not in entries:
                raise Error(
                    f'the module has no "{name}" entry (entries: '
                    f'{", ".join(entries) or "none"}); {self._CONTRACT}'
                )
            args = module.args(name)
            ins = [a for a in args if a.role == "input"]
            outs = [a for a in args if a.role == "output"]
            got = (
                f"{name}("
                + ", ".join(f"{a.name} {a.dtype}{list(a.shape)}" for a in ins)
                + ") -> "
                + ", ".join(f"{a.name} {a.dtype}{list(a.shape)}" for a in outs)
            )
            by_name = {a.name: a for a in ins}
            # logits first; a module with an MTP module also returns prefill's
            # hidden states, which plain generation does not read.
            ok = len(ins) == 4 and outs and outs[0].name == "logits" and set(by_name) == set(self._INPUTS)
            if ok:
                ids = by_name["input_ids"]
                tokens = ids.shape[1] if len(ids.shape) == 2 else -1
                if name == "decode" and tokens != 1:
                    ok = False
                want = {"input_ids": (1, tokens), "positions": (1, tokens),
                        "start_pos": (1,), "kv_len": (1,)}
                # -1: a dynamic token count (any prompt length per call).
                ok = ok and (tokens >= 1 or (name == "prefill" and tokens == -1)) and all(
                    by_name[k].dtype == "i64" and by_name[k].shape == s for k, s in want.items()
                )
                out = outs[0]
                ok = ok and out.dtype == "f32" and len(out.shape) == 2 and out.shape[0] in (1, tokens)
            if not ok:
                raise Error(f'the module\'s "{name}" entry is {got}; {self._CONTRACT}')
            if self.vocab is not None and out.shape[1] != self.vocab:
                raise Error(
                    f"the module's prefill returns {self.vocab} logits per token but decode {out.shape[1]}"
                )
            self.vocab = out.shape[1]
            if name == "prefill":
                self.prefill_tokens = tokens
            states = [a for a in args if a.role == "state"]
            if not states:
                raise Error(f'the module\'s "{name}" entry declares no KV cache state; {self._CONTRACT}')
            for a in states:
                if len(a.shape) < 2 or a.shape[0] != 1:
                    raise Error(
                        f'the module\'s "{name}" entry has state {a.name} {a.dtype}{list(a.shape)}, '
                        "not a KV cache of shape [1, max_seq_len, ...]"
                    )
                rows[a.name] = a.shape[1]
        if len(set(rows.values())) != 1:
            raise Error(f"the module's KV caches disagree on max_seq_len: {rows}")
        self.max_seq_len = next(iter(rows.values()))
        if self.prefill_tokens == -1:
            # As the C++ Generator: chunks bound the attention scores' memory.
            self.prefill_tokens = min(self.MAX_PREFILL_CHUNK, self.max_seq_len)
            self.dynamic_prefill = True
        else:
            self.dynamic_prefill = False
        if self.prefill_tokens > self.max_seq_len:
            raise Error(
                f"the module's prefill takes {self.prefill_tokens} tokens but its caches hold "
                f"only {self.max_seq_len} rows"
            )
        self.position = 0

    def validate(self, prompt: List[int], max_new_tokens: int, stops) -> None:
        v, n, m = self.vocab, len(prompt), max_new_tokens
        if not prompt:
            raise Error("the prompt is empty")
        for i, t in enumerate(prompt):
            if not 0 <= t < v:
                raise Error(
                    f"prompt token id {t} (position {i}) is outside the vocabulary [0, {v}) of the module"
                )
        if m < 0:
            raise Error(f"max_new_tokens {m} is negative")
        if n + m > self.max_seq_len:
            raise Error(
                f"prompt of {n} tokens + {m} new tokens exceeds max_seq_len "
                f"{self.max_seq_len} of the module"
            )
        for t in sorted(stops):
            if not 0 <= t < v:
                raise Error(f"stop id {t} is outside the vocabulary [0, {v}) of the module")

    def call(self, entry: str, tokens: List[int]) -> np.ndarray:
        start, s = self.position, len(tokens)
        values = {
            "input_ids": np.array([tokens], np.int64),
            "positions": np.arange(start, start + s, dtype=np.int64)[None],
            "start_pos": np.array([start], np.int64),
            "kv_len": np.array([start + s], np.int64),
        }
        # Matched by name, as the C++ Generator.
        logits = self.module.call(entry, values)[0]
        self.position = start + s
        return logits[-1]

    def generate(self, prompt, max_new_tokens, sampler, stops) -> Iterator[int]:
        p = self.prefill_tokens
        done = 0
        while len(prompt) - done >= p or (self.dynamic_prefill and done < len(prompt)):
            logits = self.call("prefill", prompt[done : done + p])
            done += min(p, len(prompt) - done)
        for t in prompt[done:]:
            logits = self.call("decode", [t])
        for i in range(max_new_tokens):
            if i:
                logits = self.call("decode", [token])
            token = sampler.sample(logits)
            yield token
            if token in stops:
                return
