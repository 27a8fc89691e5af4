# -*- Python -*- lit configuration of the dsv3 test suite.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "DSV3"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.dsv3_obj_root, "test")

llvm_config.use_default_substitutions()
# FileCheck, not, count and llvm-nm of the same LLVM release.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
# Python drivers of the integration tests find the tools through DSV3_BIN.
config.environment["DSV3_BIN"] = config.dsv3_tools_dir
# Reference scripts (numpy, ml_dtypes) run with the interpreter CMake found.
config.substitutions.append(("%dsv3py", config.python_executable))
config.substitutions.append(("%dsv3_src", config.dsv3_src_root))
config.substitutions.append(("%dsv3_lib", config.dsv3_lib_dir))
config.substitutions.append(("%dsv3_obj", config.dsv3_obj_root))
config.substitutions.append(("%cuda_path", config.cuda_path))
llvm_config.add_tool_substitutions(
    ["dsv3-opt", "dsv3-compile", "dsv3-run", "dsv3-import", "dsv3-generate"],
    [config.dsv3_tools_dir])
# PATH has the LLVM tools last, so /usr/bin's (possibly older) llvm-nm would
# win without an explicit substitution.
llvm_config.add_tool_substitutions(["llvm-nm"], [config.llvm_tools_dir])
# Upstream's mlir-opt (mlir-22-tools), where a test compares a dsv3 pass with
# an upstream one.
if os.path.exists(os.path.join(config.llvm_tools_dir, "mlir-opt")):
    llvm_config.add_tool_substitutions(["mlir-opt"], [config.llvm_tools_dir])
    config.available_features.add("mlir-opt")

# Sanitized runtimes need ASan loaded first when python or a module dlopens.
if config.sanitizers:
    config.available_features.add("asan")
    # A module allocation that fails must reach the runtime as NULL (it turns
    # it into an error), not as an ASan report.
    config.environment["ASAN_OPTIONS"] = (
        "detect_leaks=1:abort_on_error=0:allocator_may_return_null=1")
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"

# The text path of python -m dsv3 (tokenizer.json, chat templates) needs the
# tokenizers and jinja2 packages (requirements.txt); a venv made before they
# were listed reports its tests unsupported instead of failing.
def _python_has(*modules):
    import subprocess

    code = "import " + ", ".join(modules)
    return subprocess.run([config.python_executable, "-c", code],
                          capture_output=True).returncode == 0


if _python_has("tokenizers", "jinja2"):
    config.available_features.add("tokenizers")

# Modules built with --march=x86-64-v4 (the 16-lane AVX-512 kernels) run
# only on a CPU with AVX-512; elsewhere their tests are unsupported.
def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


if {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= _cpu_flags():
    config.available_features.add("avx512")

if os.path.exists(os.path.join(config.cuda_path, "bin", "ptxas")):
    config.available_features.add("ptxas")
    config.environment["CUDA_HOME"] = config.cuda_path


def _has_cuda_gpu():
    if os.environ.get("DSV3_DISABLE_GPU_TESTS"):
        return False
    try:
        import ctypes

        cuda = ctypes.CDLL("libcuda.so.1")
        if cuda.cuInit(0) != 0:
            return False
        n = ctypes.c_int(0)
        return cuda.cuDeviceGetCount(ctypes.byref(n)) == 0 and n.value > 0
    except OSError:
        return False


if _has_cuda_gpu():
    config.available_features.add("cuda-gpu")
