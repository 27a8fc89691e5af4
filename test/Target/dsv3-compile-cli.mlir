// dsv3-compile's command line, as iree-compile users expect it.
//
// --help lists dsv3-compile's options and the MLIR debugging flags, not
// LLVM's backend flags (--help-hidden still does).
// RUN: dsv3-compile --help | FileCheck %s --check-prefix=HELP --implicit-check-not=x86 --implicit-check-not=aarch64 --implicit-check-not=amdgpu
// HELP: USAGE: dsv3-compile [options] <graph.mlir>
// HELP: MLIR debugging options:
// HELP: --mlir-print-ir-after-all
// HELP: --mlir-timing
// HELP: dsv3-compile options:
// HELP: --cuda-chip=<string>
// HELP: --emit=<string>
// HELP: --target=<string>
// RUN: dsv3-compile --help-hidden | FileCheck %s --check-prefix=HIDDEN
// HIDDEN: --x86-asm-syntax
//
// --version: dsv3's version and commit (also recorded in module metadata as
// "compiler"), the module ABI and the MLIR it was built with.
// RUN: dsv3-compile --version | FileCheck %s --check-prefix=VERSION
// VERSION: dsv3-compile (dsv3 {{[0-9]+\.[0-9]+\.[0-9]+}}, commit {{([0-9a-f]+(-dirty)?|unknown)}}), module ABI v4, MLIR/LLVM {{[0-9.]+}}
// RUN: dsv3-run --version | FileCheck %s --check-prefix=RUNVERSION
// RUNVERSION: dsv3-run (dsv3 {{[0-9]+\.[0-9]+\.[0-9]+}}, commit {{([0-9a-f]+(-dirty)?|unknown)}}), module ABI v4
// RUN: dsv3-compile %s --target=host --emit=llvm -o - | FileCheck %s --check-prefix=META
// META: \22compiler\22:\22dsv3 {{[0-9]+\.[0-9]+\.[0-9]+}} (
//
// A bad -o is refused before compiling, in one line.
// RUN: not dsv3-compile %s --target=host -o %t.missing/m.so 2>&1 | FileCheck %s --check-prefix=BADOUT --implicit-check-not={{.}}
// BADOUT: dsv3-compile: error: -o {{.*}}.missing/m.so: directory '{{.*}}.missing' does not exist
// RUN: mkdir -p %t.dir && not dsv3-compile %s --target=host -o %t.dir 2>&1 | FileCheck %s --check-prefix=DIROUT
// DIROUT: dsv3-compile: error: -o {{.*}}.dir is a directory
//
// Targets: host, cuda, and cuda-sim (the cuda kernels on the host); the GPU
// stages need cuda.
// RUN: not dsv3-compile %s --target=rocm -o %t.so 2>&1 | FileCheck %s --check-prefix=TARGET --implicit-check-not={{.}}
// TARGET: dsv3-compile: error: --target must be host, cuda or cuda-sim, got 'rocm'
// RUN: not dsv3-compile %s --target=cuda-sim --emit=ptx 2>&1 | FileCheck %s --check-prefix=SIMPTX --implicit-check-not={{.}}
// SIMPTX: dsv3-compile: error: --emit=ptx needs --target=cuda
//
// cuda chips other than Hopper are refused up front (they used to abort in
// LLVM's instruction selection or fail at the first kernel).
// RUN: not dsv3-compile %s --target=cuda --cuda-chip=sm_80 -o %t.so 2>&1 | FileCheck %s --check-prefix=CHIP --implicit-check-not={{.}}
// RUN: not dsv3-compile %s --target=cuda --cuda-chip=sm_100a -o %t.so 2>&1 | FileCheck %s --check-prefix=CHIP --implicit-check-not={{.}}
// RUN: not dsv3-compile %s --target=cuda --cuda-chip=h100 -o %t.so 2>&1 | FileCheck %s --check-prefix=CHIP --implicit-check-not={{.}}
// CHIP: dsv3-compile: error: --cuda-chip={{.*}} is not supported: the cuda target is built for Hopper (sm_90a, or sm_90 without the 'a' features); it needs the FP8 e4m3 conversions and PTX 8.0
//
// An error in the pipeline names its source line; an op it is attached to
// is not dumped after it in generic form (for a failing link step that was
// the whole module) unless --mlir-print-op-on-diagnostic asks.
// RUN: not dsv3-compile %S/Inputs/unsized-output.mlir --target=cuda -o %t.so 2>&1 | FileCheck %s --check-prefix=DIAG --implicit-check-not="see current operation"
// DIAG: unsized-output.mlir:{{[0-9]+}}:{{[0-9]+}}: error: entry output 'result0': dynamic dimension 0 is 'rows', which no input's dimension defines
//
// The same graph compiles for cuda: a dynamic token count takes both targets.
// RUN: dsv3-compile %s --target=cuda --emit=gpu -o - | FileCheck %s --check-prefix=CUDA
// CUDA: \22target\22:\22cuda\22
// CUDA: gpu.launch_func
func.func @norm(%x: tensor<?x8xf32> {dsv3.dynamic_dims = [{dim = 0 : i64, max = 4 : i64, min = 1 : i64, symbol = "tokens"}]}, %w: tensor<8xf32>) -> (tensor<?x8xf32> {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens"}]}) {
  %y = dsv3.rms_norm %x, %w : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
