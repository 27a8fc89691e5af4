gpu.module @kernels {
  gpu.func @trunc_f32(%x: f32) -> f8E4M3FN {
    %r = arith.truncf %x : f32 to f8E4M3FN
    gpu.return %r : f8E4M3FN
  }
  gpu.func @trunc_f16(%x: f16) -> f8E4M3FN {
    %r = arith.truncf %x : f16 to f8E4M3FN
    gpu.return %r : f8E4M3FN
  }
  gpu.func @ext_f32(%q: f8E4M3FN) -> f32 {
    %r = arith.extf %q : f8E4M3FN to f32
    gpu.return %r : f32
  }
  gpu.func @ext_f16(%q: f8E4M3FN) -> f16 {
    %r = arith.extf %q : f8E4M3FN to f16
    gpu.return %r : f16
  }
  gpu.func @ext_bf16(%q: f8E4M3FN) -> bf16 {
    %r = arith.extf %q : f8E4M3FN to bf16
    gpu.return %r : bf16
  }
  gpu.func @untouched(%s: f8E8M0FNU, %v: vector<2xf32>) -> (f32, vector<2xf8E4M3FN>) {
    %a = arith.extf %s : f8E8M0FNU to f32
    %b = arith.truncf %v : vector<2xf32> to vector<2xf8E4M3FN>
    gpu.return %a, %b : f32, vector<2xf8E4M3FN>
  }
}
