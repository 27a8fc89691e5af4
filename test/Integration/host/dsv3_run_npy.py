"""Files of dsv3-run-npy.test: .npy arrays as numpy writes them with ml_dtypes.

write DIR: x_bf16.npy (an ml_dtypes bfloat16 array, descr '<V2') and
  x_f32.npy (float32: ties, NaN, an overflow, a subnormal), both [2, 3].
check Y X: Y, a dsv3-run output of neg-bf16.mlir, read with
  np.load(Y).view(ml_dtypes.bfloat16), is -X rounded to bf16 as ml_dtypes'
  astype rounds (nearest even), bit for bit (any NaN for NaN).
"""

import sys

import ml_dtypes
import numpy as np

X = np.array([[1 + 2**-8, 1 + 3 * 2**-8, np.nan],
              [np.finfo(np.float32).max, -0.1, 2**-133]], np.float32)


def main():
    if sys.argv[1] == "write":
        out = sys.argv[2]
        with np.errstate(over="ignore"):
            np.save(f"{out}/x_bf16.npy", X.astype(ml_dtypes.bfloat16))
        np.save(f"{out}/x_f32.npy", X)
        return
    y = np.load(sys.argv[2])
    assert y.dtype == np.dtype("V2"), y.dtype
    y = y.view(ml_dtypes.bfloat16)
    x = np.load(sys.argv[3])
    if x.dtype.kind == "V":  # np.load gives a bf16 file as a void array
        x = x.view(ml_dtypes.bfloat16)
    with np.errstate(over="ignore"):
        want = -x.astype(ml_dtypes.bfloat16)
    nan = np.isnan(want.astype(np.float32))
    assert (np.isnan(y.astype(np.float32)) == nan).all(), (y, want)
    assert (y.view(np.uint16)[~nan] == want.view(np.uint16)[~nan]).all(), (y, want)
    print(f"ok: {sys.argv[2]} = -bf16({sys.argv[3]}): {y.astype(np.float32).tolist()}")


if __name__ == "__main__":
    main()
