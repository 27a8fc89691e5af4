"""After a failed allocation the same session and module run the next call."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import dsv3rt  # noqa: E402

module = dsv3rt.Session().load(sys.argv[1])
try:
    module.call("outer_sum", np.ones(1 << 23, np.float32))
    sys.exit("a 256 TiB allocation succeeded")
except dsv3rt.Error as e:
    assert "could not allocate" in str(e), e
for _ in range(3):
    (y,) = module.call("outer_sum", np.array([1, 2, 3, 4], np.float32))
    assert np.array_equal(y, [10, 20, 30, 40]), y
print("ok")
