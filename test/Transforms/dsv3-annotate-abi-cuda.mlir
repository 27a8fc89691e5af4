// RUN: dsv3-opt %s --dsv3-annotate-abi=target=cuda --verify-diagnostics
// The cuda target refuses dynamic token dimensions for now (the host one
// takes them, see dsv3-annotate-abi.mlir).

// expected-error @+1 {{entry input 'ids' is 'tensor<1x?xi64>': the cuda target does not take dynamic dimensions yet (import with a static --prefill-tokens=P)}}
func.func @tokens(%x: tensor<1x?xi64> {dsv3.name = "ids", dsv3.dynamic_dims = [{dim = 1 : i64, symbol = "tokens", min = 1 : i64, max = 64 : i64}]}) {
  return
}
