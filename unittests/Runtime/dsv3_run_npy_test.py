"""dsv3-run on .npy files written and read by numpy with ml_dtypes (issue 13).

numpy has no bf16 dtype: np.save of an ml_dtypes bfloat16 array writes the
void descr '<V2'. dsv3-run must read such a file for a bf16 input, write bf16
outputs that np.load(...).view(ml_dtypes.bfloat16) reads back, and, with
--allow-narrowing only, round f32/f64 arrays to bf16 exactly as ml_dtypes'
astype does (nearest even, NaN stays NaN, overflow to inf).

Run by ctest (dsv3rt.DsvRunMlDtypesNpy) with DSV3_RUN and FAKE_ADD_MODULE set
in the environment (the module's neg_bf16 entry flips the sign of a bf16[4]);
exits 77 (reported as skipped) without numpy or ml_dtypes, which
requirements.txt installs.
"""

import os
import subprocess
import sys
import tempfile
import unittest

try:
    import ml_dtypes
    import numpy as np
except ImportError as e:
    print(f"{e.name} is not installed; skipping the ml_dtypes .npy tests")
    sys.exit(77)

DSV3_RUN = os.environ["DSV3_RUN"]
ADD = os.environ["FAKE_ADD_MODULE"]
BF16 = np.dtype(ml_dtypes.bfloat16)


def neg_bf16(*flags):
    """Runs neg_bf16 with the flags; (exit status, stdout + stderr)."""
    p = subprocess.run([DSV3_RUN, ADD, "--function=neg_bf16", *flags],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def bits(array):
    return np.ascontiguousarray(array).view(np.uint16)


class MlDtypesNpy(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_np_save_writes_a_void_descr(self):
        # What the runtime relies on: a bf16 array is saved as '<V2'.
        x = self.path("x.npy")
        np.save(x, np.zeros(4, BF16))
        with open(x, "rb") as f:
            self.assertIn(b"'descr': '<V2'", f.read(128))

    def test_bf16_input_and_output(self):
        x = np.array([1.5, -2, 0.25, np.nan], BF16)
        xin, yout = self.path("x.npy"), self.path("y.npy")
        np.save(xin, x)
        code, out = neg_bf16("--input=@" + xin, "--output=@" + yout)
        self.assertEqual(code, 0, out)
        y = np.load(yout)
        self.assertEqual(y.dtype, np.dtype("V2"))
        y = y.view(ml_dtypes.bfloat16)
        np.testing.assert_array_equal(bits(y), bits(x) ^ 0x8000)
        # The file is byte for byte what np.save writes for that array.
        again = self.path("again.npy")
        np.save(again, y)
        with open(yout, "rb") as a, open(again, "rb") as b:
            self.assertEqual(a.read(), b.read())
        # np.load's '|V2' array, saved again, reads as bf16 too.
        reloaded = self.path("reloaded.npy")
        np.save(reloaded, np.load(yout))
        code, out = neg_bf16("--input=@" + reloaded, "--expected-output=@" + xin,
                             "--expected-rtol=0")
        self.assertEqual(code, 0, out)
        code, out = neg_bf16("--input=@" + xin, "--expected-output=@" + xin,
                             "--expected-rtol=0")
        self.assertEqual(code, 1, out)
        self.assertIn("3 of 4 elements differ", out)

    def test_f8_array_for_bf16_input_is_refused(self):
        xin = self.path("x.npy")
        np.save(xin, np.ones(4, ml_dtypes.float8_e4m3fn))
        code, out = neg_bf16("--input=@" + xin)
        self.assertEqual(code, 2, out)
        self.assertIn("npy dtype '<V1' (raw 1-byte elements) cannot be read as bf16 "
                      "(2-byte elements)", out)

    def check_narrowing(self, values, dtype):
        x = np.array(values, dtype)
        xin, yout = self.path("x.npy"), self.path("y.npy")
        np.save(xin, x)
        code, out = neg_bf16("--input=@" + xin)
        self.assertEqual(code, 2, out)
        self.assertIn("--allow-narrowing", out)
        code, out = neg_bf16("--input=@" + xin, "--allow-narrowing", "--output=@" + yout)
        self.assertEqual(code, 0, out)
        got = np.load(yout).view(ml_dtypes.bfloat16)
        with np.errstate(over="ignore"):
            want = -x.astype(BF16)
        nan = np.isnan(want.astype(np.float32))
        np.testing.assert_array_equal(np.isnan(got.astype(np.float32)), nan)
        np.testing.assert_array_equal(bits(got)[~nan], bits(want)[~nan], f"{x!r}")

    def test_allow_narrowing_rounds_like_ml_dtypes(self):
        f32 = np.float32
        for values in (
            [1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8), np.nan],  # ties to even
            [np.finfo(f32).max, -np.inf, 3.3961776e38, 3.3895314e38],  # overflow
            [2**-133, 2**-126 * 1.5, -(2**-149), 0.0],  # subnormals
            [-0.0, 1e-45, 65504.0, 0.1],
        ):
            self.check_narrowing(values, np.float32)
        # f64 is rounded once, as ml_dtypes does (not through f32).
        self.check_narrowing([1 + 2**-8 + 2**-30, 1e300, -1e-300, np.nan], np.float64)
        rng = np.random.default_rng(13)
        for _ in range(4):
            raw = rng.integers(0, 2**32, 4, dtype=np.uint64).astype(np.uint32)
            self.check_narrowing(raw.view(np.float32), np.float32)


if __name__ == "__main__":
    unittest.main()
