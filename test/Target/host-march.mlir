// What --march decides besides clang's -march.
//
// The module's metadata records the x86-64 level of its code, which the
// runtime checks at load (a module for AVX-512 on an AVX2 CPU is refused
// with a message, not killed by an illegal instruction).
// RUN: dsv3-compile %s --target=host --emit=llvm | FileCheck %s --check-prefix=V3
// RUN: dsv3-compile %s --target=host --emit=llvm --march=x86-64-v4 | FileCheck %s --check-prefix=V4
// RUN: dsv3-compile %s --target=host --emit=llvm --march=x86-64 | FileCheck %s --check-prefix=V1
// RUN: dsv3-compile %s --target=host --emit=llvm --march=znver3 | FileCheck %s --check-prefix=V3
// RUN: dsv3-compile %s --target=host --emit=llvm --march=sapphirerapids | FileCheck %s --check-prefix=V4
// V3: \22x86_64_level\22:\22x86-64-v3\22
// V4: \22x86_64_level\22:\22x86-64-v4\22
// V1: \22x86_64_level\22:\22x86-64\22
//
// The host kernels' vector width follows --march: 8 f32 lanes (AVX2) by
// default, 16 (AVX-512) where --march has AVX-512 (x86-64-v4, a CPU such as
// znver4, or native on such a CPU); --host-vector-width overrides it.
// RUN: dsv3-compile %s --target=host --emit=linalg | FileCheck %s --check-prefix=W8
// RUN: dsv3-compile %s --target=host --emit=linalg --march=x86-64-v4 | FileCheck %s --check-prefix=W16
// RUN: dsv3-compile %s --target=host --emit=linalg --march=znver4 | FileCheck %s --check-prefix=W16
// RUN: dsv3-compile %s --target=host --emit=linalg --march=znver3 | FileCheck %s --check-prefix=W8
// RUN: dsv3-compile %s --target=host --emit=linalg --march=x86-64-v4 --host-vector-width=8 | FileCheck %s --check-prefix=W8
// RUN: dsv3-compile %s --target=host --emit=linalg --host-vector-width=16 | FileCheck %s --check-prefix=W16
// RUN: not dsv3-compile %s --target=host --emit=linalg --host-vector-width=12 2>&1 | FileCheck %s --check-prefix=BAD --implicit-check-not={{.}}
// W8:      vector.fma {{.*}} : vector<8xf32>
// W8-NOT:  vector<16xf32>
// W16:     vector.fma {{.*}} : vector<16xf32>
// BAD: dsv3-compile: error: --host-vector-width must be 8, 16 or 0 (from --march), got 12
func.func @f(%x: tensor<4x256xbf16>) -> tensor<4x256xf32> {
  %w = dsv3.parameter "w" : tensor<256x256xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<2x2xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<2x2xf32>)
      : (tensor<4x256xbf16>, tensor<256x256xf8E4M3FN>) -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
