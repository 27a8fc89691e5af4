func.func @ext_e4m3(%x: f8E4M3FN) -> f32 {
  %y = arith.extf %x : f8E4M3FN to f32
  return %y : f32
}
func.func @ext_e4m3_vector_bf16(%x: vector<16xf8E4M3FN>) -> vector<16xbf16> {
  %y = arith.extf %x : vector<16xf8E4M3FN> to vector<16xbf16>
  return %y : vector<16xbf16>
}
func.func @trunc_e4m3(%x: f32) -> f8E4M3FN {
  %y = arith.truncf %x : f32 to f8E4M3FN
  return %y : f8E4M3FN
}
func.func @e8m0(%x: f8E8M0FNU, %y: f32) -> (f32, f8E8M0FNU) {
  %a = arith.extf %x : f8E8M0FNU to f32
  %b = arith.truncf %y : f32 to f8E8M0FNU
  return %a, %b : f32, f8E8M0FNU
}
func.func @untouched(%x: f16) -> f32 {
  %y = arith.extf %x : f16 to f32
  return %y : f32
}
