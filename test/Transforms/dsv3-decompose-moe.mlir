// RUN: dsv3-opt %s --dsv3-decompose-moe --split-input-file | FileCheck %s

// f32 experts, V3 routing: the router reads the bias, the routed experts'
// weights are read as stacked parameters [E, N, K] (the runtime assembles
// them from experts.<e>.* when it binds; the graph never copies them), and
// the shared expert is three dsv3.linear.
// CHECK-LABEL: func.func @v3_f32
// CHECK-SAME:    (%[[X:.*]]: tensor<3x16xbf16>)
// CHECK-NOT:   dsv3.moe %
// CHECK-NOT:   tensor.insert_slice
// CHECK-DAG:   %[[GW:.*]] = dsv3.parameter "model.layers.3.mlp.gate.weight" : tensor<4x16xf32>
// CHECK-DAG:   %[[GB:.*]] = dsv3.parameter "model.layers.3.mlp.gate.e_score_correction_bias" : tensor<4xf32>
// CHECK:       %[[W:.*]], %[[IDS:.*]] = dsv3.moe_gate %[[X]], %[[GW]] bias(%[[GB]] : tensor<4xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(2) n_group(2) norm_topk_prob routed_scaling_factor(2.500000e+00)
// CHECK:       %[[G:.*]] = dsv3.parameter "model.layers.3.mlp.experts.{e}.gate_proj.weight" stacked : tensor<4x8x16xf32>
// CHECK-NEXT:  %[[U:.*]] = dsv3.parameter "model.layers.3.mlp.experts.{e}.up_proj.weight" stacked : tensor<4x8x16xf32>
// CHECK-NEXT:  %[[DN:.*]] = dsv3.parameter "model.layers.3.mlp.experts.{e}.down_proj.weight" stacked : tensor<4x16x8xf32>
// CHECK:       %[[ROWS:.*]], %[[OFF:.*]], %{{.*}} = dsv3.expert_dispatch %[[X]], %[[IDS]] alignment(2) : (tensor<3x16xbf16>, tensor<3x2xi32>) -> tensor<10x16xbf16>, tensor<5xi64>, tensor<10xi64>
// CHECK:       %[[HG:.*]] = dsv3.grouped_matmul %[[ROWS]], %[[G]], %[[OFF]] : {{.*}} -> tensor<10x8xf32>
// CHECK:       %[[HU:.*]] = dsv3.grouped_matmul %[[ROWS]], %[[U]], %[[OFF]] : {{.*}} -> tensor<10x8xf32>
// CHECK:       %[[A:.*]] = linalg.generic {{.*}} ins(%[[HG]], %[[HU]] : tensor<10x8xf32>, tensor<10x8xf32>)
// CHECK:         math.exp
// CHECK:       %[[HD:.*]] = dsv3.grouped_matmul %[[A]], %[[DN]], %[[OFF]] : {{.*}} -> tensor<10x16xf32>
// CHECK:       %[[R:.*]] = dsv3.expert_combine %[[HD]], %[[IDS]], %[[W]], %[[OFF]] : {{.*}} -> tensor<3x16xf32>
// CHECK-DAG:   %[[SG:.*]] = dsv3.parameter "model.layers.3.mlp.shared_experts.gate_proj.weight" : tensor<16x16xf32>
// CHECK-DAG:   %[[SU:.*]] = dsv3.parameter "model.layers.3.mlp.shared_experts.up_proj.weight" : tensor<16x16xf32>
// CHECK-DAG:   %[[SD:.*]] = dsv3.parameter "model.layers.3.mlp.shared_experts.down_proj.weight" : tensor<16x16xf32>
// CHECK:       %[[L1:.*]] = dsv3.linear %[[X]], %[[SG]] : (tensor<3x16xbf16>, tensor<16x16xf32>) -> tensor<3x16xf32>
// CHECK:       %[[L2:.*]] = dsv3.linear %[[X]], %[[SU]]
// CHECK:       %[[M:.*]] = linalg.generic {{.*}} ins(%[[L1]], %[[L2]]
// CHECK:       %[[SH:.*]] = dsv3.linear %[[M]], %[[SD]] : (tensor<3x16xf32>, tensor<16x16xf32>) -> tensor<3x16xf32>
// CHECK:       %[[Y:.*]] = linalg.generic {{.*}} ins(%[[R]], %[[SH]] : tensor<3x16xf32>, tensor<3x16xf32>) outs(%{{.*}} : tensor<3x16xbf16>)
// CHECK:         arith.addf
// CHECK:         arith.truncf {{.*}} : f32 to bf16
// CHECK:       return %[[Y]]
func.func @v3_f32(%x: tensor<3x16xbf16>) -> tensor<3x16xbf16> {
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(4) num_experts_per_tok(2) n_group(2) topk_group(1) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(2) weight_type(f32) alignment(2) : tensor<3x16xbf16> -> tensor<3x16xbf16>
  return %y : tensor<3x16xbf16>
}

// -----

// FP8 experts: a bf16 router, and every projection weight with its stacked
// `_scale_inv` blocks [E, ceil(N/128), ceil(K/128)] (I = 130: two scale rows).
// No shared expert, no bias (greedy softmax routing), f32 result: nothing to
// add or round.
// CHECK-LABEL: func.func @fp8_no_shared
// CHECK-NOT:   e_score_correction_bias
// CHECK:       dsv3.parameter "model.layers.1.mlp.gate.weight" : tensor<2x256xbf16>
// CHECK:       dsv3.moe_gate %{{.*}}, %{{.*}} scoring_func(softmax) topk_method(greedy) top_k(1)
// CHECK:       dsv3.parameter "model.layers.1.mlp.experts.{e}.gate_proj.weight" stacked : tensor<2x130x256xf8E4M3FN>
// CHECK-NEXT:  dsv3.parameter "model.layers.1.mlp.experts.{e}.gate_proj.weight_scale_inv" stacked : tensor<2x2x2xf32>
// CHECK:       dsv3.parameter "model.layers.1.mlp.experts.{e}.down_proj.weight_scale_inv" stacked : tensor<2x2x2xf32>
// CHECK:       dsv3.grouped_matmul %{{.*}} weight_scale_inv(%{{.*}} : tensor<2x2x2xf32>) : (tensor<{{.*}}x256xf32>, tensor<2x130x256xf8E4M3FN>, tensor<3xi64>)
// CHECK-NEXT:  dsv3.grouped_matmul %{{.*}} weight_scale_inv(%{{.*}} : tensor<2x2x2xf32>) : (tensor<{{.*}}x256xf32>, tensor<2x130x256xf8E4M3FN>, tensor<3xi64>)
// CHECK-NOT:   shared_experts
// CHECK:       %[[R:.*]] = dsv3.expert_combine
// CHECK-NEXT:  return %[[R]]
func.func @fp8_no_shared(%x: tensor<2x256xf32>) -> tensor<2x256xf32> {
  %y = dsv3.moe %x prefix("model.layers.1.mlp") n_routed_experts(2) num_experts_per_tok(1) topk_method(greedy) scoring_func(softmax) moe_intermediate_size(130) weight_type(f8E4M3FN) : tensor<2x256xf32> -> tensor<2x256xf32>
  return %y : tensor<2x256xf32>
}
