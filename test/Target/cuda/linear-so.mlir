// The full cuda module of an FP8 linear layer: a shared object that exports
// the module ABI and nothing else, imports only mgpu* functions (libdsv3rt)
// besides libc, embeds one fatbin per kernel, and whose host code touches
// host memory only (every argument is a device pointer in a cuda module).
// Each fatbin holds the sm_90a cubin and the kernel's PTX, which a driver for
// a newer chip compiles when it loads the module.
// REQUIRES: ptxas
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a -o %t.so
// RUN: llvm-nm --defined-only --extern-only %t.so | FileCheck %s --check-prefix=EXPORTS
// RUN: %python %S/Inputs/list-fatbins.py %t.so | FileCheck %s --check-prefix=FATBIN
// RUN: llvm-nm --undefined-only --no-weak %t.so | FileCheck %s --check-prefix=IMPORTS --implicit-check-not=" U "
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=llvm -o - | FileCheck %s --check-prefix=LLVM
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=llvm-ir -o %t.ll
// RUN: %python %S/Inputs/check-host-memory.py %t.ll | FileCheck %s --check-prefix=HOSTMEM
// The checker is not vacuous: the host module of the same graph computes on
// the host and fails it.
// RUN: dsv3-compile %s --target=host --emit=llvm-ir -o %t.host.ll
// RUN: %python %S/Inputs/check-host-memory.py --expect-violations %t.host.ll | FileCheck %s --check-prefix=HOSTBAD

// FATBIN: fatbin: elf sm_90, ptx sm_90
// FATBIN: {{[1-9][0-9]*}} fatbins, 0 without PTX

// EXPORTS-DAG: T dsv3_entry_proj
// EXPORTS-DAG: T dsv3_module_abi_version
// EXPORTS-DAG: T dsv3_module_metadata
// EXPORTS-NOT: T

// IMPORTS: U mgpuLaunchKernel
// IMPORTS: U mgpuMemAlloc
// IMPORTS: U mgpuMemFree
// IMPORTS: U mgpuModuleGetFunction
// IMPORTS: U mgpuModuleLoad
// IMPORTS: U mgpuModuleUnload
// IMPORTS: U mgpuStreamCreate
// IMPORTS: U mgpuStreamDestroy
// IMPORTS: U mgpuStreamSynchronize

// The host function launches kernels on a stream, with device temporaries;
// each kernel is an sm_90a fatbin (magic 0xBA55ED50).
// LLVM-LABEL: llvm.func hidden @proj(
// LLVM: llvm.call @mgpuStreamCreate()
// LLVM: gpu.launch_func <%{{.*}} : !llvm.ptr> @proj_linear_down_proj_fp8::@proj_linear_down_proj_fp8
// LLVM: llvm.call @mgpuMemAlloc
// LLVM: llvm.call @mgpuStreamSynchronize
// LLVM: gpu.binary @proj_linear_down_proj_fp8 [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">, properties = {{{.*}}}, "P\EDU\BA
// LLVM: llvm.mlir.global internal constant @__dsv3_metadata("{{.*}}\22target\22:\22cuda\22
// LLVM: llvm.func @dsv3_entry_proj(%arg0: !llvm.ptr)
// LLVM: llvm.call @_mlir_ciface_proj(
// LLVM-NOT: memref.
// LLVM-NOT: unrealized_conversion_cast

// HOSTMEM: OK: {{[0-9]+}} host accesses checked
// HOSTBAD: device memory accessed on the host: proj{{(\.\.omp_par[.0-9]*)?}}: {{.*}} = load

func.func @proj(%x: tensor<4x256xbf16>) -> tensor<4x256xf32> {
  %w = dsv3.parameter "model.layers.0.mlp.down_proj.weight" : tensor<256x256xf8E4M3FN>
  %s = dsv3.parameter "model.layers.0.mlp.down_proj.weight_scale_inv" : tensor<2x2xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<2x2xf32>) act_quant(fp8_1x128)
      : (tensor<4x256xbf16>, tensor<256x256xf8E4M3FN>) -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
