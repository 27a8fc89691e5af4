// Row and element offsets of the MoE dispatch are 64-bit all the way to LLVM
// IR: with 1525202 rows of 2816 elements, element (1525201, 2815) of the
// dispatched rows is at 1525201 * 2816 + 2815 = 4294968831 > 2^32, and the
// gather reads row_to_token as i64 and scales it by 2816 in i64.
// RUN: dsv3-compile %s --target=host --emit=llvm-ir -o - | FileCheck %s

// CHECK-LABEL: define {{.*}}@pick(
// The element read back at row 1525201, column 2815:
// CHECK:      getelementptr inbounds nuw bfloat, ptr %{{.*}}, i64 4294968831
// The gather rows[r, h] = x[row_to_token[r], h] (in the function LLVM
// outlines for its thread team), token index in i64:
// CHECK:      define internal void @pick..omp_par
// CHECK:      %[[OFF:.*]] = mul nuw nsw i64 %{{[0-9]+}}, 2816
// CHECK-NEXT: %[[ELEM:.*]] = add nuw nsw i64 %[[OFF]], %{{.*}}
// CHECK-NEXT: getelementptr inbounds nuw bfloat, ptr %{{.*}}, i64 %[[ELEM]]
func.func @pick(%x: tensor<1525202x2816xbf16>, %ids: tensor<1525202x1xi32>) -> tensor<1xbf16> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<1525202x2816xbf16>, tensor<1525202x1xi32>) -> tensor<1525202x2816xbf16>, tensor<2xi64>, tensor<1525202xi64>
  %r = arith.constant 1525201 : index
  %c = arith.constant 2815 : index
  %v = tensor.extract %rows[%r, %c] : tensor<1525202x2816xbf16>
  %t = tensor.from_elements %v : tensor<1xbf16>
  return %t : tensor<1xbf16>
}
