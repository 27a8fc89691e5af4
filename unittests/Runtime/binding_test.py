"""Tests of python/dsv3rt.py (the ctypes binding) against the fake modules.

Run by ctest (dsv3rt.PythonBinding) with DSV3RT_LIBRARY and FAKE_*_MODULE set
in the environment; exits 77 (reported as skipped) without numpy.
"""

import json
import os
import pathlib
import re
import struct
import sys
import tempfile
import unittest

try:
    import numpy as np
except ImportError:
    print("numpy is not installed; skipping the binding tests")
    sys.exit(77)

sys.path.insert(
    0,
    os.environ.get(
        "DSV3_PYTHON_DIR",
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"),
    ),
)
import dsv3rt  # noqa: E402

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None

ADD = os.environ["FAKE_ADD_MODULE"]
STATE = os.environ["FAKE_STATE_MODULE"]
STACKED = os.environ["FAKE_STACKED_MODULE"]
CUDA_STATE = os.environ["FAKE_CUDA_STATE_MODULE"]
LM = os.environ["FAKE_LM_MODULE"]
LM_WRONG = os.environ["FAKE_LM_WRONG_MODULE"]


def lm_greedy(tokens, n):
    """fake_lm_module's greedy continuation: next = (3 * sum + count) % 8."""
    tokens, out = list(tokens), []
    for _ in range(n):
        out.append((3 * sum(tokens) + len(tokens)) % 8)
        tokens.append(out[-1])
    return out


def write_safetensors(path, tensors):
    """tensors: list of (name, float32 array), written back to back in order."""
    header, offset, data = {}, 0, b""
    for name, array in tensors:
        raw = np.ascontiguousarray(array, np.float32).tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        offset += len(raw)
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    return path


class BindingTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.session = dsv3rt.Session("host")

    def tearDown(self):
        self.session.close()
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_call_and_introspection(self):
        m = self.session.load(ADD)
        self.assertEqual(m.target, "host")
        self.assertEqual(m.entries, ["add", "sum", "neg_bf16"])
        self.assertEqual(
            m.args("add")[1],
            dsv3rt.Arg("w", "parameter", "f32", (2, 3)),
        )
        w = np.arange(10, 70, 10, dtype=np.float32).reshape(2, 3)
        m.bind([write_safetensors(self.path("w.safetensors"), [("w", w)])])
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        (y,) = m.call("add", x)
        np.testing.assert_array_equal(y, x + w)
        np.testing.assert_array_equal(m.call("add", np.asfortranarray(x))[0], x + w)
        (s,) = m.call(1, [[1, 2, 3], [4, 5, 6]])  # lists take the arg's dtype
        self.assertEqual(s.shape, ())
        self.assertEqual(s, 21)

    def test_errors_carry_the_runtime_message(self):
        m = self.session.load(ADD)
        with self.assertRaisesRegex(dsv3rt.Error, r"expected f32\[2,3\], got i32\[2,3\]"):
            m.call("sum", np.zeros((2, 3), np.int32))
        with self.assertRaisesRegex(dsv3rt.Error, 'no entry named "mul"'):
            m.call("mul")
        with self.assertRaisesRegex(dsv3rt.Error, r'missing parameter "w" \(searched: no files\)'):
            m.bind([])
        with self.assertRaisesRegex(dsv3rt.Error, "takes 1 input"):
            m.call("sum")
        with self.assertRaisesRegex(
            dsv3rt.Error, r"expected f32\[2,3\], got complex64\[2,3\] \(complex64 arrays are not"
        ):
            m.call("sum", np.zeros((2, 3), np.complex64))
        with self.assertRaisesRegex(dsv3rt.Error, "has no dsv3 dtype"):
            self.session.write_state("kv", np.zeros(8, np.float64))
        with self.assertRaisesRegex(dsv3rt.Error, "cannot load module"):
            self.session.load(self.path("missing.so"))
        with self.assertRaisesRegex(dsv3rt.Error, 'unknown device "tpu"'):
            dsv3rt.Session("tpu")

    @unittest.skipIf(ml_dtypes is None, "ml_dtypes is not installed")
    def test_bf16(self):
        m = self.session.load(ADD)
        a = np.array([1, -1, 0, 2], ml_dtypes.bfloat16)
        (b,) = m.call("neg_bf16", a)
        self.assertEqual(b.dtype, np.dtype(ml_dtypes.bfloat16))
        np.testing.assert_array_equal(b.astype(np.float32), -a.astype(np.float32))

    def test_state(self):
        m = self.session.load(STATE)
        self.assertEqual(
            self.session.states(),
            [dsv3rt.State("kv", "f32", (8,)), dsv3rt.State("count", "i64", ())],
        )
        self.assertEqual([a.role for a in m.args("append")], ["input", "state", "input", "output"])
        self.assertEqual(
            m.args("append")[0].bounds,
            dsv3rt.Bounds(0, 7, "append writes 1 row(s) per call into a cache of max_seq_len 8"),
        )
        np.testing.assert_array_equal(self.session.read_state("kv"), np.zeros(8, np.float32))
        (total,) = m.call("append", np.array([2], np.int32), np.array([5], np.float32))
        self.assertEqual(total, 5)
        (total,) = m.call("append", [7], [1])
        self.assertEqual(total, 6)
        snapshot, calls = m.call("bump")
        np.testing.assert_array_equal(snapshot, [1, 1, 6, 1, 1, 1, 1, 2])
        self.assertEqual(calls, 1)
        # Refused by the bounds: nothing written.
        with self.assertRaisesRegex(
            dsv3rt.Error,
            r'input "pos" element \[0\] = 8 is outside \[0, 7\] .*nothing was written',
        ):
            m.call("append", [8], [100])
        np.testing.assert_array_equal(self.session.read_state("kv"), snapshot)

        self.session.write_state("kv", np.arange(8, dtype=np.float32))
        self.session.write_state("count", 41)
        _, calls = m.call("bump")
        self.assertEqual(calls, 42)
        np.testing.assert_array_equal(self.session.read_state("kv"), np.arange(1, 9))
        with self.assertRaisesRegex(
            dsv3rt.Error, r'state "kv" is f32\[8\], the value written is f32\[2\]'
        ):
            self.session.write_state("kv", np.zeros(2, np.float32))
        with self.assertRaisesRegex(
            dsv3rt.Error, r'unknown state "cache" \(states of this session: kv, count\)'
        ):
            self.session.read_state("cache")
        self.session.reset_state()
        self.assertEqual(self.session.read_state("count"), 0)
        np.testing.assert_array_equal(self.session.read_state("kv"), np.zeros(8))

    def test_state_survives_module_close(self):
        with self.session.load(STATE) as m:
            m.call("append", [0], [3])
        m2 = self.session.load(STATE)
        (total,) = m2.call("append", [1], [4])
        self.assertEqual(total, 7)

    def test_stacked(self):
        m = self.session.load(STACKED)
        arg = m.args("gather_rows")[1]
        self.assertEqual(arg.name, "experts.{e}.w")
        self.assertTrue(arg.stacked)
        rows = {e: np.array([10 * e, 10 * e + 1, 10 * e + 2], np.float32) for e in range(4)}
        def experts(file, order):
            return write_safetensors(self.path(file), [(f"experts.{e}.w", rows[e]) for e in order])

        in_order = experts("a.safetensors", range(4))
        shuffled = experts("b.safetensors", (2, 0, 3, 1))
        results = []
        for files in ([in_order], [shuffled]):
            m.bind(files, entry="gather_rows")
            got, _address = m.call("gather_rows", np.array([3, 1], np.int32))
            results.append(got)
        np.testing.assert_array_equal(results[0], np.stack([rows[3], rows[1]]))
        np.testing.assert_array_equal(results[0], results[1])
        partial = experts("c.safetensors", (0, 1, 3))
        with self.assertRaisesRegex(
            dsv3rt.Error, r'missing parameter "experts.2.w" \(expert 2 of stacked'
        ):
            m.bind([partial])

    def test_bind_checkpoint_paths(self):
        """bind takes one path (str or PathLike) or a list; directories and
        shard indexes go through the C API."""
        m = self.session.load(ADD)
        w = np.arange(10, 70, 10, dtype=np.float32).reshape(2, 3)
        x = np.ones((2, 3), np.float32)
        ckpt = self.path("ckpt")
        os.mkdir(ckpt)
        shard_name = "model-00001-of-00001.safetensors"
        shard = write_safetensors(os.path.join(ckpt, shard_name), [("w", w)])
        # A plain str is one path, not a sequence of one-character paths.
        m.bind(shard)
        np.testing.assert_array_equal(m.call("add", x)[0], x + w)
        m.bind(ckpt)  # a directory of shards, without an index
        np.testing.assert_array_equal(m.call("add", x)[0], x + w)
        index = os.path.join(ckpt, "model.safetensors.index.json")
        with open(index, "w") as f:
            json.dump({"metadata": {}, "weight_map": {"w": shard_name}}, f)
        for paths in (pathlib.Path(index), pathlib.Path(ckpt), [index], ckpt.encode()):
            m.bind(paths, entry="add")
            np.testing.assert_array_equal(m.call("add", x)[0], x + w)
        with open(index, "w") as f:
            json.dump({"weight_map": {"w": 7}}, f)
        with self.assertRaisesRegex(
            dsv3rt.Error, re.escape(index) + r'.*weight_map\["w"\] must be a shard file name'
        ):
            m.bind(ckpt)

    def test_bind_path_types(self):
        """bind takes a str, bytes or os.PathLike path, or a list/tuple of
        them; anything else is a TypeError naming what was given."""
        m = self.session.load(ADD)
        w = np.arange(6, dtype=np.float32).reshape(2, 3)
        x = np.ones((2, 3), np.float32)
        one = write_safetensors(self.path("w.safetensors"), [("w", w)])
        m.bind(one)  # a plain str: one file, not one path per character
        np.testing.assert_array_equal(m.call("add", x)[0], x + w)
        m.bind((pathlib.Path(one),))
        np.testing.assert_array_equal(m.call("add", x)[0], x + w)
        with self.assertRaisesRegex(
            TypeError, r"str, bytes or os.PathLike path or a list/tuple of them, got int"
        ):
            m.bind(3)
        with self.assertRaisesRegex(TypeError, r"paths\[1\] is a dict"):
            m.bind([one, {"w": one}])
        with self.assertRaisesRegex(TypeError, "got set"):
            m.bind({one})

    def test_input_dtype_conversion(self):
        """Float arrays are converted to the input's dtype when that holds
        every value (f16/bf16 -> f32); narrowing needs allow_narrowing=True;
        integer arrays are converted only when every value fits (no
        wrapping); anything else is an error naming the input and dtypes."""
        m = self.session.load(ADD)
        x = np.arange(1, 7).reshape(2, 3)
        for dtype in (np.float32, np.float16):
            (s,) = m.call("sum", x.astype(dtype))
            self.assertEqual(s, 21)
        narrowing = (
            r'entry "sum": input 0 \("x"\): expected f32\[2,3\], got float64\[2,3\]; '
            r"float64 -> f32 loses precision or range: pass an f32 array or "
            r"call\(\.\.\., allow_narrowing=True\)"
        )
        with self.assertRaisesRegex(dsv3rt.Error, narrowing):
            m.call("sum", x.astype(np.float64))
        (s,) = m.call("sum", x.astype(np.float64) + 0.25, allow_narrowing=True)
        self.assertEqual(s, 22.5)
        with self.assertRaisesRegex(
            dsv3rt.Error, r'input 0 \("x"\): expected f32\[2,3\], got i64\[2,3\] \(i64 arrays are not converted to f32\)'
        ):
            m.call("sum", x)  # integers are not converted to floats
        if ml_dtypes is not None:
            bf16 = np.dtype(ml_dtypes.bfloat16)
            (s,) = m.call("sum", x.astype(bf16))  # bf16 -> f32 widens
            self.assertEqual(s, 21)
            a = np.array([1.5, -2, 0, 3], np.float32)
            with self.assertRaisesRegex(
                dsv3rt.Error,
                r'entry "neg_bf16": input 0 \("a"\): expected bf16\[4\], got f32\[4\]; '
                r"f32 -> bf16 loses precision",
            ):
                m.call("neg_bf16", a)
            (b,) = m.call("neg_bf16", a, allow_narrowing=True)
            self.assertEqual(b.dtype, bf16)
            np.testing.assert_array_equal(b.astype(np.float32), -a)

        s = self.session.load(STATE)
        (total,) = s.call("append", np.array([2], np.int64), np.array([5], np.float32))
        self.assertEqual(total, 5)  # an in-range int64 becomes the i32 pos
        wrapped = 2**32 + 3  # would wrap to 3
        for allow in (False, True):
            with self.assertRaisesRegex(
                dsv3rt.Error,
                r'entry "append": input 0 \("pos"\): expected i32\[1\], got i64\[1\]: '
                r"element \[0\] = 4294967299 is outside the i32 range "
                r"\[-2147483648, 2147483647\] \(integers are never wrapped\)",
            ):
                s.call("append", np.array([wrapped], np.int64), [1], allow_narrowing=allow)
        with self.assertRaisesRegex(dsv3rt.Error, r"element \[0\] = 4294967299 is outside"):
            s.call("append", [wrapped], [1])  # lists too
        with self.assertRaisesRegex(dsv3rt.Error, r"element \[1\] = 0.5 is not an integer"):
            s.call("ids", [[1, 0.5], [0, 0]])
        with self.assertRaisesRegex(
            dsv3rt.Error, r'input 0 \("pos"\): expected i32\[1\], got f32\[1\]'
        ):
            s.call("append", np.array([1], np.float32), [1])
        np.testing.assert_array_equal(self.session.read_state("kv"), [0, 0, 5, 0, 0, 0, 0, 0])
        (t,) = s.call("ids", np.array([[1, 2], [3, -1]], np.int32))  # i32 -> i64 widens
        self.assertEqual(t, 5)
        (t,) = s.call("ids", np.array([[1, 2], [3, 0]], np.uint8))
        self.assertEqual(t, 6)

    @unittest.skipIf(ml_dtypes is None, "ml_dtypes is not installed")
    def test_input_dtype_conversion_f8_f16(self):
        """The conversion rules for dtypes no fake module takes as an input
        (f16, f8), on the binding's converter directly."""
        def convert(value, dtype, allow=False):
            arg = dsv3rt.Arg("h", "input", dtype, (2,))
            return dsv3rt._input_array(value, arg, "e", 0, allow)

        f8 = np.dtype(ml_dtypes.float8_e4m3fn)
        f32 = np.array([0.5, 300.0], np.float32)
        with self.assertRaisesRegex(
            dsv3rt.Error, r'expected f8e4m3fn\[2\], got f32\[2\]; f32 -> f8e4m3fn loses'
        ):
            convert(f32, "f8e4m3fn")
        self.assertEqual(convert(f32, "f8e4m3fn", allow=True).dtype, f8)
        e4m3 = f32.astype(f8)
        for wider in ("f16", "bf16", "f32"):  # every f8e4m3fn value fits
            got = convert(e4m3, wider)
            self.assertEqual(got.dtype, dsv3rt._numpy_dtype(wider))
            np.testing.assert_array_equal(got.astype(np.float32), [0.5, 288.0])
        with self.assertRaisesRegex(dsv3rt.Error, "f16 -> bf16 loses"):
            convert(np.zeros(2, np.float16), "bf16")
        with self.assertRaisesRegex(dsv3rt.Error, "bf16 -> f16 loses"):
            convert(np.zeros(2, ml_dtypes.bfloat16), "f16")
        self.assertEqual(convert(np.zeros(2, np.float16), "f32").dtype, np.float32)
        self.assertEqual(convert([1, 2.5], "f16").dtype, np.float16)  # lists: literals
        with self.assertRaisesRegex(dsv3rt.Error, r"element \[0\] = 200 is outside the i8 range"):
            convert(np.array([200, 1], np.int16), "i8")

    def test_named_inputs_and_outputs(self):
        m = self.session.load(STATE)
        (total,) = m.call("append", pos=[2], value=[5])
        self.assertEqual(total, 5)
        out = m.call("append", {"value": np.array([1], np.float32), "pos": np.array([7], np.int32)})
        self.assertEqual(out["total"], 6)
        self.assertEqual(m.call("append", [3], value=[1])["total"], 7)
        message = r'entry "append" has no input named "val" \(inputs: pos, value\)'
        with self.assertRaisesRegex(dsv3rt.Error, message):
            m.call("append", pos=[1], val=[1])
        with self.assertRaisesRegex(dsv3rt.Error, r'input "pos" is given both by position and by name'):
            m.call("append", [1], pos=[1], value=[1])
        with self.assertRaisesRegex(dsv3rt.Error, r'entry "append": missing input "value"'):
            m.call("append", pos=[1])
        with self.assertRaisesRegex(dsv3rt.Error, r'entry "append" takes 2 input\(s\) \(pos, value\), got 3'):
            m.call("append", [1], [1], [1])
        np.testing.assert_array_equal(self.session.read_state("kv"), [0, 0, 5, 1, 0, 0, 0, 1])

        out = m.call("bump")
        self.assertIsInstance(out, list)  # callers that unpack or index keep working
        self.assertEqual(len(out), 2)
        snapshot, calls = out
        self.assertIs(out["snapshot"], snapshot)
        self.assertIs(out[1], out["calls"])
        self.assertEqual(out.names, ("snapshot", "calls"))
        self.assertEqual(list(out.as_dict()), ["snapshot", "calls"])
        self.assertIs(out.as_dict()["calls"], calls)
        self.assertIn("calls", out)
        self.assertNotIn("total", out)
        np.testing.assert_array_equal(snapshot, [1, 1, 6, 2, 1, 1, 1, 2])
        self.assertEqual(calls, 1)
        self.assertIn("calls=", repr(out))
        with self.assertRaisesRegex(KeyError, r'no output named "total" \(outputs: snapshot, calls\)'):
            out["total"]

    def test_pyproject_installs_the_binding_and_the_cli(self):
        """python/pyproject.toml (pip install -e python/) ships dsv3rt and the
        dsv3 package, and lists every module next to them."""
        try:
            import tomllib
        except ImportError:
            self.skipTest("tomllib needs python 3.11")
        root = pathlib.Path(dsv3rt.__file__).resolve().parent
        with open(root / "pyproject.toml", "rb") as f:
            project = tomllib.load(f)
        tool = project["tool"]["setuptools"]
        modules = sorted(p.stem for p in root.glob("*.py"))
        packages = sorted(p.parent.name for p in root.glob("*/__init__.py"))
        self.assertEqual(sorted(tool["py-modules"]), modules)
        self.assertEqual(sorted(tool["packages"]), packages)
        self.assertIn("dsv3rt", modules)
        self.assertIn("dsv3", packages)
        deps = project["project"]["dependencies"]
        self.assertTrue(any(re.match(r"numpy\b", d) for d in deps), deps)
        extras = project["project"]["optional-dependencies"]
        self.assertTrue(any(d.startswith("tokenizers") for d in extras["text"]), extras)
        self.assertEqual(project["project"]["scripts"]["dsv3"], "dsv3.__main__:main")
        self.assertEqual(project["build-system"]["build-backend"], "setuptools.build_meta")

    def test_cuda_session_without_device(self):
        if os.environ.get("DSV3_LIBCUDA", "").startswith("/nonexistent"):
            with dsv3rt.Session("cuda") as s:
                m = s.load(CUDA_STATE)
                self.assertEqual(s.states(), [dsv3rt.State("acc", "f32", (4,))])
                with self.assertRaisesRegex(dsv3rt.Error, "no CUDA device: "):
                    s.read_state("acc")
                with self.assertRaisesRegex(dsv3rt.Error, "no CUDA device: "):
                    m.call("peek")
        else:
            self.skipTest("DSV3_LIBCUDA does not point to a missing driver")

    def test_kernel_profile(self):
        # Host sessions launch no kernels: the profile stays empty, and the
        # calls to toggle it succeed (the fake driver's test times kernels).
        self.session.set_kernel_profiling(True)
        m = self.session.load(ADD)
        w = np.ones((2, 3), np.float32)
        m.bind([write_safetensors(self.path("w.safetensors"), [("w", w)])])
        m.call("add", np.ones((2, 3), np.float32))
        self.assertEqual(self.session.kernel_stats(), [])
        self.assertEqual(m.kernel_costs(), [], "a host module has no kernels")
        self.session.set_kernel_profiling(False)
        with dsv3rt.Session("cuda") as s:
            s.set_kernel_profiling(True)
            self.assertEqual(s.kernel_stats(), [])

    def test_generate(self):
        m = self.session.load(LM)  # P = 3, V = 8, L = 16; no parameters
        prompt = [1, 2, 3, 4, 5, 6, 7]  # two prefill chunks + one decode
        tokens = self.session.generate(m, prompt, 6)
        self.assertEqual(list(tokens), lm_greedy(prompt, 6))
        self.assertEqual(list(self.session.generate(m, [5, 1], 3)), lm_greedy([5, 1], 3))
        stop = lm_greedy(prompt, 6)[2]
        got = list(self.session.generate(m, prompt, 6, stop_ids=[stop]))
        self.assertEqual(got[-1], stop)
        self.assertEqual(got, lm_greedy(prompt, 6)[: got.index(stop) + 1])
        a = list(self.session.generate(m, prompt, 8, temperature=1.5, seed=9))
        self.assertEqual(a, list(self.session.generate(m, prompt, 8, temperature=1.5, seed=9)))
        self.assertNotEqual(a, list(self.session.generate(m, prompt, 8, temperature=1.5, seed=10)))
        k1 = self.session.generate(m, prompt, 8, temperature=1.5, top_k=1, seed=9)
        self.assertEqual(list(k1), lm_greedy(prompt, 8))

    def test_generate_validates_before_running(self):
        m = self.session.load(LM)
        cases = [
            (([], 4), {}, "the prompt is empty"),
            (([1, 8], 4), {}, r"prompt token id 8 \(position 1\) is outside the vocabulary \[0, 8\)"),
            (([1] * 10, 7), {}, "prompt of 10 tokens \\+ 7 new tokens exceeds max_seq_len 16 of the module"),
            (([1], 4), {"temperature": -1}, "temperature -1 is not a finite number >= 0"),
            (([1], 4), {"temperature": float("nan")}, "temperature nan"),
            (([1], 4), {"top_p": 0}, r"top-p 0 is outside \(0, 1\]"),
            (([1], 4), {"top_p": 1.5}, r"top-p 1.5 is outside \(0, 1\]"),
            (([1], 4), {"top_k": -1}, "top-k -1 is negative"),
            (([1], 4), {"stop_ids": [9]}, r"stop id 9 is outside the vocabulary \[0, 8\)"),
        ]
        for args, kwargs, message in cases:
            with self.subTest(message=message):
                with self.assertRaisesRegex(dsv3rt.Error, message):
                    self.session.generate(m, *args, **kwargs)  # raises at the call
                cache = self.session.read_state("model.layers.0.self_attn.kv_cache.c_kv")
                self.assertFalse(cache.any())
        with self.assertRaisesRegex(dsv3rt.Error, 'the module has no "prefill" entry'):
            self.session.generate(self.session.load(ADD), [1], 1)
        other = dsv3rt.Session("host")
        with self.assertRaisesRegex(
            dsv3rt.Error, r'the module\'s "decode" entry is decode\(start_pos i64\[1\]'
        ):
            other.generate(other.load(LM_WRONG), [1], 1)
        other.close()

    def test_sampler_matches_the_cpp_sampler(self):
        # The sequences GenerateTest.cpp (SamplerTest.PrngAndDrawsArePinned)
        # pins for the C++ sampler: same PRNG, same algorithm.
        logits = [1.0, 0.5, 0.0, -0.5, -1.5]
        s = dsv3rt.Sampler(0.8, seed=7)
        self.assertEqual([s.sample(logits) for _ in range(16)],
                         [1, 3, 0, 2, 0, 0, 2, 2, 0, 1, 1, 1, 0, 0, 2, 0])
        for k in (0, 4):
            s = dsv3rt.Sampler(1.3, top_k=k, top_p=0.9, seed=11)
            self.assertEqual([s.sample(logits) for _ in range(16)],
                             [0, 2, 0, 2, 0, 0, 3, 1, 1, 3, 0, 0, 3, 0, 0, 0])
        self.assertEqual(dsv3rt.Sampler().sample([1, 3, 3, 2]), 1)  # ties: lowest id
        nucleus = dsv3rt.Sampler(1.0, top_p=0.5).distribution([2.0, 1.9, 1.8, 1.0, 0.0])
        self.assertEqual([i for i, _ in nucleus], [0, 1])
        with self.assertRaisesRegex(dsv3rt.Error, r"NaN \(token id 1\)"):
            dsv3rt.Sampler(1.0).sample([0.0, float("nan")])

    def test_closed_handles(self):
        s = dsv3rt.Session("host")
        m = s.load(ADD)
        s.close()  # unloads m first
        with self.assertRaisesRegex(dsv3rt.Error, "closed"):
            m.call("sum", np.zeros((2, 3), np.float32))
        with self.assertRaisesRegex(dsv3rt.Error, "closed"):
            s.states()


if __name__ == "__main__":
    unittest.main()
