"""llama.cpp's ggml CPU kernels through ctypes, as the peer of dsv3's host
kernels in the benchmarks: the libggml of the `llama-cpp-python` wheel (its
llama.cpp), no headers needed. Only what the benchmarks use: Q8_0 weights
(ggml's 8-bit format, 34 bytes per 32 weights: one f16 scale + 32 int8),
`ggml_mul_mat` (activations quantized to Q8_0 on the fly, as llama.cpp runs
a Q8_0 model) and `ggml_mul_mat_id` (the MoE expert GEMM).

    pip install llama-cpp-python   # builds llama.cpp's CPU backend
"""
import ctypes
import glob
import os
import time

import numpy as np

GGML_TYPE_F32, GGML_TYPE_I32, GGML_TYPE_Q8_0 = 0, 26, 8


def _libdir():
    import llama_cpp  # noqa: F401  (where the wheel put libggml)
    return os.path.join(os.path.dirname(llama_cpp.__file__), "lib")


class _InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p),
                ("no_alloc", ctypes.c_bool)]


class Ggml:
    def __init__(self):
        d = _libdir()
        mode = ctypes.RTLD_GLOBAL
        self.base = ctypes.CDLL(glob.glob(os.path.join(d, "libggml-base.so*"))[0], mode=mode)
        self.cpu = ctypes.CDLL(glob.glob(os.path.join(d, "libggml-cpu.so*"))[0], mode=mode)
        P, I64 = ctypes.c_void_p, ctypes.c_int64
        sig = {
            "ggml_init": (P, [_InitParams]), "ggml_free": (None, [P]),
            "ggml_new_tensor_2d": (P, [P, ctypes.c_int, I64, I64]),
            "ggml_new_tensor_3d": (P, [P, ctypes.c_int, I64, I64, I64]),
            "ggml_mul_mat": (P, [P, P, P]), "ggml_mul_mat_id": (P, [P, P, P, P]),
            "ggml_new_graph": (P, [P]), "ggml_build_forward_expand": (None, [P, P]),
            "ggml_get_data": (P, [P]), "ggml_nbytes": (ctypes.c_size_t, [P]),
            "ggml_row_size": (ctypes.c_size_t, [ctypes.c_int, I64]),
            "ggml_quantize_chunk": (ctypes.c_size_t, [ctypes.c_int, P, P, I64, I64, I64, P]),
        }
        for name, (res, args) in sig.items():
            f = getattr(self.base, name)
            f.restype, f.argtypes = res, args
        self.cpu.ggml_graph_compute_with_ctx.restype = ctypes.c_int
        self.cpu.ggml_graph_compute_with_ctx.argtypes = [P, P, ctypes.c_int]
        self.cpu.ggml_cpu_init.restype = None
        self.cpu.ggml_cpu_init()

    def context(self, nbytes):
        return self.base.ggml_init(_InitParams(nbytes + (64 << 20), None, False))

    def q8_0(self, ctx, rows_f32, shape):
        """A Q8_0 tensor ggml-shaped `shape` (ne0 = K first) filled with the
        f32 rows yielded by rows_f32 (each [n, K], in order)."""
        t = (self.base.ggml_new_tensor_2d(ctx, GGML_TYPE_Q8_0, *shape) if len(shape) == 2
             else self.base.ggml_new_tensor_3d(ctx, GGML_TYPE_Q8_0, *shape))
        dst, k = self.base.ggml_get_data(t), shape[0]
        row_size = self.base.ggml_row_size(GGML_TYPE_Q8_0, k)
        for chunk in rows_f32:
            chunk = np.ascontiguousarray(chunk, np.float32)
            # start = 0: ggml offsets src and dst by start; dst is moved here.
            self.base.ggml_quantize_chunk(GGML_TYPE_Q8_0, chunk.ctypes.data, dst, 0,
                                          chunk.shape[0], k, None)
            dst += chunk.shape[0] * row_size
        return t

    def array(self, ctx, a, dtype):
        a = np.ascontiguousarray(a)
        shape = a.shape[::-1]  # ggml: ne0 is the innermost dimension
        t = (self.base.ggml_new_tensor_2d(ctx, dtype, *shape) if len(shape) == 2
             else self.base.ggml_new_tensor_3d(ctx, dtype, *shape))
        ctypes.memmove(self.base.ggml_get_data(t), a.ctypes.data, a.nbytes)
        return t

    def time_graph(self, ctx, outputs, threads, runs):
        """Min seconds of computing the graph of `outputs` (after one warm-up)."""
        g = self.base.ggml_new_graph(ctx)
        for o in outputs:
            self.base.ggml_build_forward_expand(g, o)
        best = float("inf")
        for _ in range(runs + 1):
            t = time.perf_counter()
            if self.cpu.ggml_graph_compute_with_ctx(ctx, g, threads) != 0:
                raise RuntimeError("ggml_graph_compute_with_ctx failed")
            best = min(best, time.perf_counter() - t)
        return best
