// RUN: dsv3-opt %s --dsv3-lower-to-linalg --split-input-file | FileCheck %s

// V3 router: f32 logits, sigmoid, bias added for selection only, group
// score = best + second best, group ranks, rejected groups set to -inf,
// expert ranks (higher score, then lower index), slot j takes the expert of
// rank j with its UNBIASED score, renormalise (+1e-20), then x factor.
// CHECK-DAG: #[[GRP:.*]] = affine_map<(d0, d1) -> (d0, d1 floordiv 4)>
// CHECK-DAG: #[[BIAS:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @moe_gate_v3
// CHECK-DAG:  %[[FACTOR:.*]] = arith.constant 2.500000e+00 : f32
// CHECK-DAG:  %[[EPS:.*]] = arith.constant 9.99999968E-21 : f32
// CHECK-DAG:  %[[KEPT:.*]] = arith.constant 2 : i32
// CHECK-DAG:  %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:      %[[U:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<4x64xbf16>, tensor<16x64xbf16>)
// CHECK:        arith.extf %{{.*}} : bf16 to f32
// CHECK:      %[[S:.*]] = linalg.generic {{.*}} ins(%[[U]] : tensor<4x16xf32>)
// CHECK:        arith.negf
// CHECK:        math.exp
// CHECK:        arith.divf
// CHECK:      %[[SEL:.*]] = linalg.generic {{.*}}#[[BIAS]]{{.*}} ins(%[[S]], %{{.*}} : tensor<4x16xf32>, tensor<16xf32>)
// CHECK:      %[[G:.*]] = tensor.expand_shape %[[SEL]] {{\[\[}}0], [1, 2]] output_shape [4, 4, 4]
// CHECK:      %[[BEST:.*]]:2 = linalg.generic {{.*}} ins(%[[G]] : tensor<4x4x4xf32>)
// CHECK:        %[[M1:.*]] = arith.maxnumf %[[O1:.*]], %[[IN:.*]] : f32
// CHECK:        %[[LO:.*]] = arith.minnumf %[[O1]], %[[IN]] : f32
// CHECK:        %[[M2:.*]] = arith.maxnumf %{{.*}}, %[[LO]] : f32
// CHECK:        linalg.yield %[[M1]], %[[M2]]
// CHECK:      %[[GS:.*]] = linalg.generic {{.*}} ins(%[[BEST]]#0, %[[BEST]]#1
// CHECK:        arith.addf
// CHECK:      %[[GR:.*]] = linalg.generic {{.*}} ins(%[[GS]], %[[GS]] : tensor<4x4xf32>, tensor<4x4xf32>) outs(%{{.*}} : tensor<4x4xi32>)
// CHECK:        arith.cmpf ogt
// CHECK:        arith.cmpf oeq
// CHECK:        arith.cmpi ult
// CHECK:      %[[MASKED:.*]] = linalg.generic {{.*}}#[[GRP]]{{.*}} ins(%[[SEL]], %[[GR]] : tensor<4x16xf32>, tensor<4x4xi32>)
// CHECK:        %[[KEEP:.*]] = arith.cmpi slt, %{{.*}}, %[[KEPT]] : i32
// CHECK:        arith.select %[[KEEP]], %{{.*}}, %[[NEGINF]] : f32
// CHECK:      %[[R:.*]] = linalg.generic {{.*}} ins(%[[MASKED]], %[[MASKED]] : tensor<4x16xf32>, tensor<4x16xf32>) outs(%{{.*}} : tensor<4x16xi32>)
// CHECK:      %[[PICK:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[R]], %[[S]] : tensor<4x16xi32>, tensor<4x16xf32>) outs(%{{.*}}, %{{.*}} : tensor<4x4xi32>, tensor<4x4xf32>)
// CHECK:      %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[PICK]]#1 : tensor<4x4xf32>) outs(%{{.*}} : tensor<4xf32>)
// CHECK:      %[[W:.*]] = linalg.generic {{.*}} ins(%[[PICK]]#1, %[[SUM]] : tensor<4x4xf32>, tensor<4xf32>)
// CHECK:        %[[DEN:.*]] = arith.addf %{{.*}}, %[[EPS]] : f32
// CHECK:        %[[Q:.*]] = arith.divf %{{.*}}, %[[DEN]] : f32
// CHECK:        arith.mulf %[[Q]], %[[FACTOR]] : f32
// CHECK:      return %[[W]], %[[PICK]]#0
func.func @moe_gate_v3(%x: tensor<4x64xbf16>, %w: tensor<16x64xbf16>, %b: tensor<16xf32>) -> (tensor<4x4xf32>, tensor<4x4xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<16xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(4) n_group(4) topk_group(2) norm_topk_prob routed_scaling_factor(2.5) : (tensor<4x64xbf16>, tensor<16x64xbf16>) -> tensor<4x4xf32>, tensor<4x4xi32>
  return %wt, %ids : tensor<4x4xf32>, tensor<4x4xi32>
}

// -----

// V2 router: softmax (max-shifted), group score = max, no renormalisation,
// the factor still applies. Greedy routing and topk_group == n_group build
// no group masking at all.
// CHECK-LABEL: func.func @moe_gate_v2
// CHECK:      arith.maxnumf
// CHECK:      arith.subf
// CHECK:      math.exp
// CHECK:      arith.divf
// CHECK:      tensor.expand_shape
// CHECK:      linalg.generic {{.*}} ins(%{{.*}} : tensor<2x4x4xf32>) outs(%{{.*}} : tensor<2x4xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT:   arith.maxnumf
// CHECK-NEXT:   linalg.yield
// CHECK-NOT:  arith.addf %{{.*}}, %cst
// CHECK:      arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK-LABEL: func.func @moe_gate_greedy
// CHECK-NOT:  tensor.expand_shape
// CHECK:      return
func.func @moe_gate_v2(%x: tensor<2x8xf32>, %w: tensor<16x8xf32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(group_limited_greedy) top_k(3) n_group(4) topk_group(2) routed_scaling_factor(16.0) : (tensor<2x8xf32>, tensor<16x8xf32>) -> tensor<2x3xf32>, tensor<2x3xi32>
  return %wt, %ids : tensor<2x3xf32>, tensor<2x3xi32>
}
func.func @moe_gate_greedy(%x: tensor<2x8xf32>, %w: tensor<16x8xf32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(greedy) top_k(3) : (tensor<2x8xf32>, tensor<16x8xf32>) -> tensor<2x3xf32>, tensor<2x3xi32>
  return %wt, %ids : tensor<2x3xf32>, tensor<2x3xi32>
}

// -----

// Without a weight the input is the logits: the sigmoid reads it directly and
// no contraction is built.
// CHECK-LABEL: func.func @moe_gate_logits
// CHECK-NOT:  reduction
// CHECK:      %[[S:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x16xf32>)
// CHECK:        arith.negf
// CHECK:        math.exp
// CHECK:      linalg.generic {{.*}} ins(%[[S]], %arg1 : tensor<4x16xf32>, tensor<16xf32>)
func.func @moe_gate_logits(%u: tensor<4x16xf32>, %b: tensor<16xf32>) -> (tensor<4x4xf32>, tensor<4x4xi32>) {
  %wt, %ids = dsv3.moe_gate %u bias(%b : tensor<16xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(4) n_group(4) topk_group(2) norm_topk_prob routed_scaling_factor(2.5) : (tensor<4x16xf32>) -> tensor<4x4xf32>, tensor<4x4xi32>
  return %wt, %ids : tensor<4x4xf32>, tensor<4x4xi32>
}

// -----

// Bias update: i64 load per expert, then sign(K*T - E*c) exactly in
// integers (K*T = 32, E = 16).
// CHECK-LABEL: func.func @expert_bias_update
// CHECK-DAG:  %[[GAMMA:.*]] = arith.constant 1.000000e-03 : f32
// CHECK-DAG:  %[[E:.*]] = arith.constant 16 : i64
// CHECK-DAG:  %[[KT:.*]] = arith.constant 32 : i64
// CHECK:      %[[C:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "reduction"]} ins(%{{.*}} : tensor<4x8xi32>) outs(%{{.*}} : tensor<16xi64>)
// CHECK:        arith.extsi %{{.*}} : i32 to i64
// CHECK:        arith.cmpi eq
// CHECK:      linalg.generic {{.*}} ins(%{{.*}}, %[[C]] : tensor<16xf32>, tensor<16xi64>)
// CHECK:        %[[EC:.*]] = arith.muli %[[E]], %{{.*}} : i64
// CHECK:        %[[D:.*]] = arith.subi %[[KT]], %[[EC]] : i64
// CHECK:        arith.cmpi sgt, %[[D]]
// CHECK:        arith.cmpi slt, %[[D]]
// CHECK:        arith.addf %{{.*}}, %[[GAMMA]]
// CHECK:        arith.subf %{{.*}}, %[[GAMMA]]
func.func @expert_bias_update(%ids: tensor<4x8xi32>, %b: tensor<16xf32>) -> tensor<16xf32> {
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<4x8xi32>, tensor<16xf32>) -> tensor<16xf32>
  return %nb : tensor<16xf32>
}

// -----

// Dispatch: pairs widened to i64, loads per expert, aligned prefix sums
// (ceil-div by the alignment), rank of each pair within its expert, row of
// each pair, row -> token (p / K, -1 init), then a gather of x with zeros
// for padding rows. Grouped GEMM: expert of each row from the offsets,
// weight and block scale gathered per (row, n, k), f32 accumulation.
// Combine: the same pair rows, then a gather of K rows per output element.
// CHECK-LABEL: func.func @dispatch_gemm_combine
// CHECK-DAG:  %[[ALIGN:.*]] = arith.constant 4 : i64
// CHECK-DAG:  %[[NEG1:.*]] = arith.constant -1 : i64
// CHECK-DAG:  %[[K:.*]] = arith.constant 2 : i64
// CHECK:      %[[FLAT:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<4x2xi32> into tensor<8xi32>
// CHECK:      %[[P:.*]] = linalg.generic {{.*}} ins(%[[FLAT]] : tensor<8xi32>) outs(%{{.*}} : tensor<8xi64>)
// CHECK:        arith.extsi %{{.*}} : i32 to i64
// CHECK:      %[[CNT:.*]] = linalg.generic {{.*}} ins(%[[P]] : tensor<8xi64>) outs(%{{.*}} : tensor<4xi64>)
// CHECK:      %[[OFF:.*]] = linalg.generic {{.*}} ins(%[[CNT]] : tensor<4xi64>) outs(%{{.*}} : tensor<5xi64>)
// CHECK:        arith.ceildivsi %{{.*}}, %[[ALIGN]] : i64
// CHECK:      %[[RANK:.*]] = linalg.generic {{.*}} ins(%[[P]], %[[P]] : tensor<8xi64>, tensor<8xi64>)
// CHECK:      %[[BASE:.*]] = linalg.generic {{.*}} ins(%[[P]], %[[OFF]] : tensor<8xi64>, tensor<5xi64>)
// CHECK:      %[[POS:.*]] = linalg.generic {{.*}} ins(%[[P]], %[[RANK]], %[[BASE]] :
// CHECK:        arith.select %{{.*}}, %{{.*}}, %[[NEG1]] : i64
// CHECK:      %[[TOK:.*]] = linalg.generic {{.*}} ins(%[[POS]] : tensor<8xi64>) outs(%{{.*}} : tensor<20xi64>)
// CHECK:        arith.divsi %{{.*}}, %[[K]] : i64
// CHECK:      %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[TOK]] : tensor<20xi64>) outs(%{{.*}} : tensor<20x64xbf16>)
// CHECK:        %[[T:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK:        tensor.extract %{{.*}}[%[[T]], %{{.*}}] : tensor<4x64xbf16>
// The expert of a row counts the segments that start at or before it (E for
// the tail past offsets[E]; E more for a row before offsets[0], which is in
// no segment either); such a row skips the K loop, so it reads no weight and
// gives 0.
// CHECK:      %[[EXPERT:.*]] = linalg.generic {{.*}} ins(%[[OFF]] : tensor<5xi64>) outs(%{{.*}} : tensor<20xi64>)
// CHECK:        %[[LATER:.*]] = arith.cmpi sge, %{{.*}}, %c1_i64 : i64
// CHECK:        %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %c0_i64 : i64
// CHECK:        %[[BEFORE:.*]] = arith.cmpi sgt, %{{.*}}, %{{.*}} : i64
// CHECK:        %[[EARLY:.*]] = arith.andi %[[FIRST]], %[[BEFORE]] : i1
// CHECK:        arith.select %[[EARLY]], %c4_i64, %{{.*}} : i64
// CHECK-NOT:    arith.minsi
// CHECK:      %[[D:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[EXPERT]] : tensor<20xi64>) outs(%{{.*}} : tensor<20x33xf32>)
// CHECK:        %[[USED:.*]] = arith.cmpi slt, %{{.*}}, %[[E4:.*]] : i64
// Per 128-wide K block: a reassociable f32 dot product (so LLVM can
// vectorize it), then one multiply by the block scale.
// CHECK:        scf.if %[[USED]] -> (f32)
// CHECK:          %[[NB:.*]] = arith.divui
// CHECK:          scf.for %[[KB:.*]] = {{.*}} iter_args
// CHECK:            arith.minui
// CHECK:            %[[PART:.*]] = scf.for {{.*}} iter_args
// CHECK:              tensor.extract %{{.*}} : tensor<4x33x64xf8E4M3FN>
// CHECK:              tensor.extract %[[ROWS]][%{{.*}}, %{{.*}}] : tensor<20x64xbf16>
// CHECK:              arith.mulf {{.*}} fastmath<reassoc,contract> : f32
// CHECK:              arith.addf {{.*}} fastmath<reassoc,contract> : f32
// CHECK:            %[[S:.*]] = tensor.extract %{{.*}}[%{{.*}}, %[[NB]], %[[KB]]] : tensor<4x1x1xf32>
// CHECK:            arith.mulf %[[PART]], %[[S]] : f32
// CHECK:        } else {
// CHECK-NEXT:     scf.yield %{{.*}} : f32
// CHECK:      %[[DB:.*]] = linalg.generic {{.*}} ins(%[[D]] : tensor<20x33xf32>) outs(%{{.*}} : tensor<20x33xbf16>)
// CHECK:      %[[PT:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [4, 2] : tensor<8xi64> into tensor<4x2xi64>
// CHECK:      %[[Y:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PT]], %{{.*}} : tensor<4x2xi64>, tensor<4x2xf32>) outs(%{{.*}} : tensor<4x33xf32>)
// CHECK:        tensor.extract %[[DB]][%{{.*}}, %{{.*}}] : tensor<20x33xbf16>
// CHECK:      linalg.generic {{.*}} ins(%[[Y]] : tensor<4x33xf32>) outs(%{{.*}} : tensor<4x33xbf16>)
func.func @dispatch_gemm_combine(%x: tensor<4x64xbf16>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %we: tensor<4x33x64xf8E4M3FN>, %s: tensor<4x1x1xf32>) -> tensor<4x33xbf16> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(4) : (tensor<4x64xbf16>, tensor<4x2xi32>) -> tensor<20x64xbf16>, tensor<5xi64>, tensor<20xi64>
  %d = dsv3.grouped_matmul %rows, %we, %off weight_scale_inv(%s : tensor<4x1x1xf32>) : (tensor<20x64xbf16>, tensor<4x33x64xf8E4M3FN>, tensor<5xi64>) -> tensor<20x33xbf16>
  %y = dsv3.expert_combine %d, %ids, %w, %off : (tensor<20x33xbf16>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<5xi64>) -> tensor<4x33xbf16>
  return %y : tensor<4x33xbf16>
}
