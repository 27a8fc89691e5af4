// y[i] = sum_j x[i] * x[j], through the full t x t outer product: a buffer
// of 4 t^2 bytes that the host module allocates at run time.
#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#col = affine_map<(i, j) -> (j)>
func.func @outer_sum(
    %x: tensor<?xf32> {dsv3.name = "x", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "t", min = 1 : i64, max = 16777216 : i64}]})
    -> (tensor<?xf32> {dsv3.name = "y", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "t"}]}) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?xf32>
  %e = tensor.empty(%t, %t) : tensor<?x?xf32>
  %outer = linalg.generic {indexing_maps = [#row, #col, #id],
      iterator_types = ["parallel", "parallel"]}
      ins(%x, %x : tensor<?xf32>, tensor<?xf32>) outs(%e : tensor<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  } -> tensor<?x?xf32>
  %ye = tensor.empty(%t) : tensor<?xf32>
  %y0 = linalg.fill ins(%zero : f32) outs(%ye : tensor<?xf32>) -> tensor<?xf32>
  %y = linalg.generic {indexing_maps = [#id, #row],
      iterator_types = ["parallel", "reduction"]}
      ins(%outer : tensor<?x?xf32>) outs(%y0 : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %y : tensor<?xf32>
}
