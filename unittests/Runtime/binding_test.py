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
        with self.assertRaisesRegex(dsv3rt.Error, "has no dsv3 dtype"):
            m.call("sum", np.zeros((2, 3), np.float64))
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
