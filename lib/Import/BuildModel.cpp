//===- BuildModel.cpp - a whole DeepSeek model as dsv3 ops ----------------===//
//
// The module an imported checkpoint becomes:
//
//   func.func private @dense_layer<S>(hidden [1,S,H], positions [1,S],
//       c_kv [1,L,R], k_pe [1,L,D], start_pos [1], kv_len [1])
//       -> (hidden, c_kv, k_pe)
//   func.func private @moe_layer<S>(...)           (same signature)
//   func.func private @embed<S>(input_ids [1,S]) -> hidden
//   func.func private @head<S>(hidden) -> logits  (model.norm, lm_head)
//   func.func @prefill(input_ids [1,?], positions [1,?], start_pos, kv_len,
//                      caches of every layer) -> (logits, caches)
//   func.func @decode (input_ids [1,1], ...)       (same, one token)
//   func.func @decode_greedy (...)  -> (next_token [1], caches)
//                                   (decode with the argmax in the graph)
//
// <S> is `_s1` for the one-token functions of decode and empty for the
// dynamic token count of prefill (or `_s<P>` for a static --prefill-tokens).
//
// A layer function reads its weights as dsv3.parameter ops named
// `model.layers.{layer}.…`; each call carries `dsv3.layer = l`, and
// dsv3-outline-layer-parameters passes layer l's weights in. So each kind of
// layer is compiled once per token count, whatever the depth.
//
// The token count of prefill is a dynamic dimension: the entry's input_ids,
// positions (and all-token logits) carry `dsv3.dynamic_dims` naming it
// `tokens`, with its range, so that the runtime checks a call's sizes and
// sizes its outputs (docs/runtime-abi.md).
//
//===----------------------------------------------------------------------===//

#include "dsv3/Import.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FormatVariadic.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::import;

static llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg.str());
}

namespace {

class ModelBuilder {
public:
  ModelBuilder(MLIRContext *ctx, const ModelConfig &c, const ImportOptions &o)
      : ctx(ctx), c(c), o(o), b(ctx), loc(UnknownLoc::get(ctx)) {
    act = o.f32Activations
              ? Type(b.getF32Type())
              : (c.torchDtype == "float32" ? Type(b.getF32Type())
                                           : Type(b.getBF16Type()));
    Type plain = c.torchDtype == "float32" ? Type(b.getF32Type())
                                           : Type(b.getBF16Type());
    weight = c.fp8 ? Type(b.getType<Float8E4M3FNType>()) : plain;
    // FP8 checkpoints keep norms, embeddings and lm_head in bf16.
    dense = c.fp8 ? Type(b.getBF16Type()) : plain;
    i64 = b.getI64Type();
  }

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    module->getOperation()->setAttr(
        "dsv3.model",
        b.getDictionaryAttr(
            {b.getNamedAttr("architecture", b.getStringAttr(c.architecture)),
             b.getNamedAttr("num_hidden_layers",
                            b.getI64IntegerAttr(c.numHiddenLayers)),
             b.getNamedAttr("vocab_size", b.getI64IntegerAttr(c.vocabSize)),
             b.getNamedAttr("max_seq_len", b.getI64IntegerAttr(o.maxSeqLen)),
             b.getNamedAttr("prefill_tokens",
                            b.getI64IntegerAttr(o.prefillTokens)),
             b.getNamedAttr("mtp_layers",
                            b.getI64IntegerAttr(o.mtp ? 1 : 0))}));
    int64_t p = o.prefillTokens == ImportOptions::kDynamicTokens
                    ? ShapedType::kDynamic
                    : o.prefillTokens;
    b.setInsertionPointToEnd(module->getBody());
    buildEntry(*module, "prefill", p, o.allLogits, /*argmax=*/false,
               /*hidden=*/o.mtp);
    // With a static prefill, speculative decoding sends a prompt's
    // remainder through decode, whose hidden states the MTP layer reads.
    buildEntry(*module, "decode", 1, false, /*argmax=*/false, /*hidden=*/o.mtp);
    buildEntry(*module, "decode_greedy", 1, false, /*argmax=*/true);
    if (o.mtp) {
      // A speculative step checks the previous draft with the new token:
      // two tokens, each one's logits and hidden state. Static, as decode:
      // a decode-sized step (absorbed attention over the latent cache),
      // not a prefill.
      buildEntry(*module, "verify", 2, /*all=*/true, /*argmax=*/false,
                 /*hidden=*/true);
      buildMtpEntry(*module, "mtp_prefill", p, o.allLogits);
      buildMtpEntry(*module, "mtp_decode", 1, false);
    }
    return module;
  }

private:
  RankedTensorType ty(ArrayRef<int64_t> shape, Type elem) {
    return RankedTensorType::get(shape, elem);
  }
  Value param(const std::string &name, ArrayRef<int64_t> shape, Type elem,
              StringRef sameAs = {}) {
    return ParameterOp::create(
        b, loc, ty(shape, elem), b.getStringAttr(name), UnitAttr(),
        sameAs.empty() ? StringAttr() : b.getStringAttr(sameAs), TypeAttr(),
        StringAttr());
  }
  /// `name` [N, K] stored as `dense`, read as its block FP8 codes and their
  /// scales `name_scale_inv`, which the runtime computes at bind time.
  std::pair<Value, Value> quantizedParam(const std::string &name,
                                         ArrayRef<int64_t> shape,
                                         StringRef sameAs = {}) {
    Value codes = ParameterOp::create(
        b, loc, ty(shape, b.getType<Float8E4M3FNType>()), b.getStringAttr(name),
        UnitAttr(), sameAs.empty() ? StringAttr() : b.getStringAttr(sameAs),
        TypeAttr::get(dense), StringAttr());
    SmallVector<int64_t> blocks = {
        llvm::divideCeilSigned(shape[0], int64_t{128}),
        llvm::divideCeilSigned(shape[1], int64_t{128})};
    Value scales =
        ParameterOp::create(b, loc, ty(blocks, b.getF32Type()),
                            b.getStringAttr(name + "_scale_inv"), UnitAttr(),
                            StringAttr(), TypeAttr(), b.getStringAttr(name));
    return {codes, scales};
  }
  std::string layerName(llvm::StringRef rest) {
    return ("model.layers.{layer}." + rest).str();
  }
  Value rmsNorm(Value x, Value w) {
    return RMSNormOp::create(b, loc, x.getType(), x, w,
                             b.getF32FloatAttr(float(c.rmsNormEps)));
  }
  /// The suffix of the private functions for `s` tokens.
  static std::string suffix(int64_t s) {
    return ShapedType::isDynamic(s) ? "" : llvm::formatv("_s{0}", s).str();
  }
  Value add(Value x, Value y) {
    auto t = cast<RankedTensorType>(x.getType());
    Value init = tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, x), t.getElementType());
    return linalg::AddOp::create(b, loc, ValueRange{x, y}, ValueRange{init})
        .getResult(0);
  }

  /// The latent cache types of one layer.
  RankedTensorType cKvType() { return ty({1, o.maxSeqLen, c.kvLoraRank}, act); }
  RankedTensorType kPeType() {
    return ty({1, o.maxSeqLen, c.qkRopeHeadDim}, act);
  }

  func::FuncOp getOrBuildLayer(ModuleOp module, bool isDense, int64_t s) {
    std::string name =
        llvm::formatv("{0}_layer{1}", isDense ? "dense" : "moe", suffix(s))
            .str();
    if (auto f = module.lookupSymbol<func::FuncOp>(name))
      return f;
    OpBuilder::InsertionGuard guard(b);
    // Before the entry that first calls it: callees read before callers.
    b.setInsertionPoint(entry);
    auto hType = ty({1, s, c.hiddenSize}, act);
    auto posType = ty({1, s}, i64);
    auto scalar = ty({1}, i64);
    auto fnType = b.getFunctionType(
        {hType, posType, cKvType(), kPeType(), scalar, scalar},
        {hType, cKvType(), kPeType()});
    auto f = func::FuncOp::create(b, loc, name, fnType);
    f.setPrivate();
    Block *body = f.addEntryBlock();
    b.setInsertionPointToStart(body);
    Value h = body->getArgument(0);

    // Attention block with its pre-norm and residual.
    Value x = rmsNorm(
        h, param(layerName("input_layernorm.weight"), {c.hiddenSize}, dense));
    SmallVector<NamedAttribute> attrs = {
        b.getNamedAttr("prefix", b.getStringAttr(layerName("self_attn"))),
        b.getNamedAttr("num_heads", b.getI64IntegerAttr(c.numAttentionHeads)),
        b.getNamedAttr("q_lora_rank", b.getI64IntegerAttr(c.qLoraRank)),
        b.getNamedAttr("kv_lora_rank", b.getI64IntegerAttr(c.kvLoraRank)),
        b.getNamedAttr("qk_nope_head_dim",
                       b.getI64IntegerAttr(c.qkNopeHeadDim)),
        b.getNamedAttr("qk_rope_head_dim",
                       b.getI64IntegerAttr(c.qkRopeHeadDim)),
        b.getNamedAttr("v_head_dim", b.getI64IntegerAttr(c.vHeadDim)),
        b.getNamedAttr("rms_norm_eps", b.getF32FloatAttr(float(c.rmsNormEps))),
        b.getNamedAttr("theta", b.getF64FloatAttr(c.ropeTheta)),
        b.getNamedAttr("weight_type", TypeAttr::get(weight))};
    if (const auto &y = c.ropeScaling) {
      attrs.push_back(b.getNamedAttr("factor", b.getF64FloatAttr(y->factor)));
      attrs.push_back(b.getNamedAttr(
          "original_max_position_embeddings",
          b.getI64IntegerAttr(y->originalMaxPositionEmbeddings)));
      auto opt = [&](const char *key, std::optional<double> v) {
        if (v)
          attrs.push_back(b.getNamedAttr(key, b.getF64FloatAttr(*v)));
      };
      opt("beta_fast", y->betaFast);
      opt("beta_slow", y->betaSlow);
      opt("mscale", y->mscale);
      opt("mscale_all_dim", y->mscaleAllDim);
    }
    auto mla =
        MLAOp::create(b, loc, TypeRange{hType, cKvType(), kPeType()},
                      ValueRange{x, body->getArgument(1), body->getArgument(2),
                                 body->getArgument(3), body->getArgument(4),
                                 body->getArgument(5)},
                      attrs);
    h = add(h, mla.getOutput());

    // Feed-forward block with its pre-norm and residual.
    x = rmsNorm(h, param(layerName("post_attention_layernorm.weight"),
                         {c.hiddenSize}, dense));
    auto rows = ty({s, c.hiddenSize}, act);
    Value x2 = tensor::CollapseShapeOp::create(
        b, loc, rows, x, SmallVector<ReassociationIndices>{{0, 1}, {2}});
    Value y;
    if (isDense) {
      y = MLPOp::create(b, loc, rows, x2, layerName("mlp"),
                        static_cast<uint64_t>(c.intermediateSize), weight);
    } else {
      SmallVector<NamedAttribute> m = {
          b.getNamedAttr("prefix", b.getStringAttr(layerName("mlp"))),
          b.getNamedAttr("n_routed_experts",
                         b.getI64IntegerAttr(c.nRoutedExperts)),
          b.getNamedAttr("num_experts_per_tok",
                         b.getI64IntegerAttr(c.numExpertsPerTok)),
          b.getNamedAttr("n_group", b.getI64IntegerAttr(c.nGroup)),
          b.getNamedAttr("topk_group", b.getI64IntegerAttr(c.topkGroup)),
          b.getNamedAttr(
              "topk_method",
              TopkMethodAttr::get(ctx, *symbolizeTopkMethod(c.topkMethod))),
          b.getNamedAttr(
              "scoring_func",
              ScoringFuncAttr::get(ctx, *symbolizeScoringFunc(c.scoringFunc))),
          b.getNamedAttr("routed_scaling_factor",
                         b.getF32FloatAttr(float(c.routedScalingFactor))),
          b.getNamedAttr("moe_intermediate_size",
                         b.getI64IntegerAttr(c.moeIntermediateSize)),
          b.getNamedAttr("n_shared_experts",
                         b.getI64IntegerAttr(c.nSharedExperts)),
          b.getNamedAttr("weight_type", TypeAttr::get(weight)),
          // Segments of exactly the rows routed to each expert: the grouped
          // GEMM lowering visits every dispatched row, and DeepGEMM's 128-row
          // padding (the op's default) made a host decode step ~9x slower
          // (bench/real_scale.py). A strategy that needs aligned segments
          // sets its own.
          b.getNamedAttr("alignment", b.getI64IntegerAttr(1))};
      if (c.normTopkProb)
        m.push_back(b.getNamedAttr("norm_topk_prob", b.getUnitAttr()));
      y = MoEOp::create(b, loc, TypeRange{rows}, ValueRange{x2}, m).getResult();
    }
    Value y3 = tensor::ExpandShapeOp::create(
        b, loc, hType, y, SmallVector<ReassociationIndices>{{0, 1}, {2}});
    h = add(h, y3);
    func::ReturnOp::create(b, loc,
                           ValueRange{h, mla.getCKvOut(), mla.getKPeOut()});
    return f;
  }

  /// Names the token arguments of entry `f` (input_ids, positions,
  /// start_pos, kv_len at the given indices) and records their ranges: the
  /// embedding and the cache ops sit in private functions, where
  /// dsv3-annotate-input-bounds cannot see the entry's arguments, so the
  /// ranges that pass gives dsv3.embedding and dsv3.mla are set here. A
  /// dynamic `s` names the token dimension `tokens`.
  void annotateTokenArgs(func::FuncOp f, StringRef name, int64_t s,
                         unsigned ids, unsigned positions, unsigned start,
                         unsigned kvLen) {
    auto named = [&](unsigned i, StringRef n) {
      f.setArgAttr(i, "dsv3.name", b.getStringAttr(n));
    };
    named(ids, "input_ids");
    named(positions, "positions");
    named(start, "start_pos");
    named(kvLen, "kv_len");
    auto bounds = [&](unsigned i, int64_t max, const std::string &why) {
      f.setArgAttr(
          i, "dsv3.bounds",
          b.getDictionaryAttr({b.getNamedAttr("min", b.getI64IntegerAttr(0)),
                               b.getNamedAttr("max", b.getI64IntegerAttr(max)),
                               b.getNamedAttr("why", b.getStringAttr(why))}));
    };
    bounds(
        ids, c.vocabSize - 1,
        llvm::formatv("embedding indexes a table of {0} tokens", c.vocabSize));
    if (ShapedType::isDynamic(s)) {
      f.setArgAttr(ids, "dsv3.dynamic_dims", tokensDim(1, true));
      f.setArgAttr(positions, "dsv3.dynamic_dims", tokensDim(1, true));
      f.setArgAttr(
          start, "dsv3.bounds",
          b.getDictionaryAttr(
              {b.getNamedAttr("min", b.getI64IntegerAttr(0)),
               b.getNamedAttr("max", b.getI64IntegerAttr(o.maxSeqLen)),
               b.getNamedAttr("minus", b.getStringAttr("tokens")),
               b.getNamedAttr(
                   "why", b.getStringAttr(llvm::formatv(
                              "{0} writes `tokens` rows from start_pos into "
                              "caches of max_seq_len {1}",
                              name, o.maxSeqLen)))}));
    } else {
      bounds(start, o.maxSeqLen - s,
             llvm::formatv("{0} writes {1} row(s) from start_pos into caches "
                           "of max_seq_len {2}",
                           name, s, o.maxSeqLen));
    }
    bounds(kvLen, o.maxSeqLen,
           llvm::formatv("{0} reads kv_len rows of caches of max_seq_len {1}",
                         name, o.maxSeqLen));
  }

  /// `dsv3.dynamic_dims` naming dimension `dim` `tokens` (with its range on
  /// inputs): one symbol for the token dimension of every argument and
  /// result of an entry, start_pos + tokens <= max_seq_len.
  ArrayAttr tokensDim(int64_t dim, bool withRange) {
    SmallVector<NamedAttribute> d = {
        b.getNamedAttr("dim", b.getI64IntegerAttr(dim)),
        b.getNamedAttr("symbol", b.getStringAttr("tokens"))};
    if (withRange) {
      d.push_back(b.getNamedAttr("min", b.getI64IntegerAttr(1)));
      d.push_back(b.getNamedAttr("max", b.getI64IntegerAttr(o.maxSeqLen)));
    }
    return b.getArrayAttr({b.getDictionaryAttr(d)});
  }

  /// Marks argument `arg` and result `res` of `f`, and the ones after each,
  /// as layer `l`'s latent cache (c_kv, then k_pe).
  void annotateCache(func::FuncOp f, int64_t l, unsigned arg, unsigned res) {
    for (int k = 0; k < 2; ++k) {
      auto state = b.getStringAttr(
          llvm::formatv("model.layers.{0}.self_attn.kv_cache.{1}", l,
                        k == 0 ? "c_kv" : "k_pe")
              .str());
      f.setArgAttr(arg + k, "dsv3.state", state);
      f.setResultAttr(res + k, "dsv3.state", state);
    }
  }

  /// Names result `i` of `f` and, for a dynamic `s`, its token dimension.
  void annotateResult(func::FuncOp f, unsigned i, StringRef name, int64_t s,
                      int64_t tokenDim) {
    f.setResultAttr(i, "dsv3.name", b.getStringAttr(name));
    if (ShapedType::isDynamic(s))
      f.setResultAttr(i, "dsv3.dynamic_dims", tokensDim(tokenDim, false));
  }

  /// A main-model entry. `argmax`: the entry returns the greedy next token
  /// (i64 [1]) instead of the logits, so that a greedy step copies 8 bytes,
  /// not V floats, off a device. `hidden`: it also returns every token's
  /// hidden state after the final norm (the input of lm_head), which the
  /// MTP module reads.
  void buildEntry(ModuleOp module, StringRef name, int64_t s, bool all,
                  bool argmax = false, bool hidden = false) {
    auto idsType = ty({1, s}, i64);
    auto scalar = ty({1}, i64);
    SmallVector<Type> args = {idsType, idsType, scalar, scalar};
    int64_t v = c.vocabSize;
    SmallVector<Type> results = {argmax ? scalar
                                 : all  ? ty({s, v}, b.getF32Type())
                                        : ty({1, v}, b.getF32Type())};
    for (int64_t l = 0; l < c.numHiddenLayers; ++l) {
      args.append({cKvType(), kPeType()});
      results.append({cKvType(), kPeType()});
    }
    if (hidden)
      results.push_back(ty({1, s, c.hiddenSize}, act));
    auto f =
        func::FuncOp::create(b, loc, name, b.getFunctionType(args, results));
    entry = f;
    annotateTokenArgs(f, name, s, 0, 1, 2, 3);
    annotateResult(f, 0, argmax ? "next_token" : "logits", all ? s : int64_t{1},
                   0);
    if (hidden)
      annotateResult(f, results.size() - 1, "hidden_states", s, 1);
    for (int64_t l = 0; l < c.numHiddenLayers; ++l)
      annotateCache(f, l, 4 + 2 * l, 1 + 2 * l);
    Block *body = f.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(body);
    // Entries only call: the embedding, each layer, the head. Their bodies
    // stay one block of calls, which dsv3-mark-glue-functions compiles
    // without optimization, so compile time grows linearly with depth.
    Value h = func::CallOp::create(b, loc, getOrBuildEmbed(module, s),
                                   ValueRange{body->getArgument(0)})
                  .getResult(0);
    SmallVector<Value> caches;
    for (int64_t l = 0; l < c.numHiddenLayers; ++l) {
      auto call =
          callLayer(module, l, s, h, body->getArgument(1),
                    body->getArgument(4 + 2 * l), body->getArgument(5 + 2 * l),
                    body->getArgument(2), body->getArgument(3));
      h = call.getResult(0);
      caches.append({call.getResult(1), call.getResult(2)});
    }
    Value logits =
        func::CallOp::create(b, loc, getOrBuildHead(module, s, all), h)
            .getResult(0);
    if (argmax)
      logits = func::CallOp::create(b, loc, getOrBuildArgmax(module), logits)
                   .getResult(0);
    SmallVector<Value> rets = {logits};
    rets.append(caches);
    if (hidden)
      rets.push_back(
          func::CallOp::create(b, loc, getOrBuildFinalNorm(module, s), h)
              .getResult(0));
    func::ReturnOp::create(b, loc, rets);
  }

  /// Decoder layer `l` (its kind's function, with layer l's weights).
  func::CallOp callLayer(ModuleOp module, int64_t l, int64_t s, Value h,
                         Value positions, Value cKv, Value kPe, Value start,
                         Value kvLen) {
    func::FuncOp layer = getOrBuildLayer(module, c.isDenseLayer(l), s);
    auto call = func::CallOp::create(
        b, loc, layer, ValueRange{h, positions, cKv, kPe, start, kvLen});
    call->setAttr("dsv3.layer", b.getI64IntegerAttr(l));
    return call;
  }

  /// The MTP module (layer L = num_hidden_layers of the checkpoint) as an
  /// entry. Row i takes the main model's hidden state h_i (after its final
  /// norm) and the token t_{i+1} that follows position i, at RoPE position
  /// i (the main model's positions: row i's cache row is i), and returns the
  /// logits of t_{i+2}:
  ///   x = eh_proj(concat[enorm(embed(t_{i+1})), hnorm(h_i)])
  ///   logits = shared_head.head(shared_head.norm(layer_L(x)))
  /// as the released weights expect (vLLM's DeepSeek MTP, which also zeroes
  /// the embedding at position 0).
  void buildMtpEntry(ModuleOp module, StringRef name, int64_t s, bool all) {
    int64_t L = c.numHiddenLayers;
    auto idsType = ty({1, s}, i64);
    auto hType = ty({1, s, c.hiddenSize}, act);
    auto scalar = ty({1}, i64);
    int64_t v = c.vocabSize;
    SmallVector<Type> args = {idsType, hType,     idsType,  scalar,
                              scalar,  cKvType(), kPeType()};
    SmallVector<Type> results = {all ? ty({s, v}, b.getF32Type())
                                     : ty({1, v}, b.getF32Type()),
                                 cKvType(), kPeType()};
    auto f =
        func::FuncOp::create(b, loc, name, b.getFunctionType(args, results));
    entry = f;
    annotateTokenArgs(f, name, s, 0, 2, 3, 4);
    f.setArgAttr(1, "dsv3.name", b.getStringAttr("hidden_states"));
    if (ShapedType::isDynamic(s))
      f.setArgAttr(1, "dsv3.dynamic_dims", tokensDim(1, true));
    annotateResult(f, 0, "logits", all ? s : int64_t{1}, 0);
    annotateCache(f, L, 5, 1);
    Block *body = f.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(body);
    Value x = func::CallOp::create(b, loc, getOrBuildMtpInput(module, s),
                                   ValueRange{body->getArgument(0),
                                              body->getArgument(1),
                                              body->getArgument(2)})
                  .getResult(0);
    auto call = callLayer(module, L, s, x, body->getArgument(2),
                          body->getArgument(5), body->getArgument(6),
                          body->getArgument(3), body->getArgument(4));
    Value logits = func::CallOp::create(
                       b, loc, getOrBuildHead(module, s, all, /*mtp=*/true),
                       call.getResult(0))
                       .getResult(0);
    func::ReturnOp::create(
        b, loc, ValueRange{logits, call.getResult(1), call.getResult(2)});
  }

  /// (input_ids [1, S], hidden [1, S, H], positions [1, S]) -> the MTP
  /// layer's input [1, S, H]: eh_proj(concat[enorm(e), hnorm(h)]), e the
  /// MTP embedding of the ids, zero at position 0.
  func::FuncOp getOrBuildMtpInput(ModuleOp module, int64_t s) {
    std::string prefix = llvm::formatv("model.layers.{0}.", c.numHiddenLayers);
    auto hType = ty({1, s, c.hiddenSize}, act);
    auto posType = ty({1, s}, i64);
    return getOrBuildFunction(
        module, "mtp_input" + suffix(s),
        b.getFunctionType({posType, hType, posType}, {hType}),
        [&](Block *body) {
          Value ids = body->getArgument(0), h = body->getArgument(1),
                pos = body->getArgument(2);
          // DeepSeek-V3 stores a copy of the main embedding here; the
          // runtime binds the main one when the bytes agree.
          Value table =
              param(prefix + "embed_tokens.weight", {c.vocabSize, c.hiddenSize},
                    dense, "model.embed_tokens.weight");
          Value e = EmbeddingOp::create(b, loc, hType, table, ids);
          e = zeroAtPositionZero(e, pos);
          Value en =
              rmsNorm(e, param(prefix + "enorm.weight", {c.hiddenSize}, dense));
          Value hn =
              rmsNorm(h, param(prefix + "hnorm.weight", {c.hiddenSize}, dense));
          // [enorm(e) | hnorm(h)] along the hidden dimension, the order of
          // eh_proj's input columns.
          Value cat =
              tensor::ConcatOp::create(b, loc, /*dim=*/2, ValueRange{en, hn});
          int64_t h2 = 2 * c.hiddenSize;
          Value rows = tensor::CollapseShapeOp::create(
              b, loc, ty({s, h2}, act), cat,
              SmallVector<ReassociationIndices>{{0, 1}, {2}});
          Value w =
              param(prefix + "eh_proj.weight", {c.hiddenSize, h2}, weight);
          Value scale;
          if (c.fp8)
            scale = param(prefix + "eh_proj.weight_scale_inv",
                          {llvm::divideCeilSigned(c.hiddenSize, int64_t{128}),
                           llvm::divideCeilSigned(h2, int64_t{128})},
                          b.getF32Type());
          Value x = LinearOp::create(b, loc, ty({s, c.hiddenSize}, act), rows,
                                     w, scale);
          return tensor::ExpandShapeOp::create(
                     b, loc, hType, x,
                     SmallVector<ReassociationIndices>{{0, 1}, {2}})
              .getResult();
        });
  }

  /// e [1, S, H] with the rows at position 0 set to zero.
  Value zeroAtPositionZero(Value e, Value positions) {
    auto t = cast<RankedTensorType>(e.getType());
    Value init = tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, e), t.getElementType());
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);
    return linalg::GenericOp::create(
               b, loc, TypeRange{t}, ValueRange{e, positions}, ValueRange{init},
               ArrayRef<AffineMap>{AffineMap::get(3, 0, {d0, d1, d2}, ctx),
                                   AffineMap::get(3, 0, {d0, d1}, ctx),
                                   AffineMap::get(3, 0, {d0, d1, d2}, ctx)},
               SmallVector<utils::IteratorType>(3,
                                                utils::IteratorType::parallel),
               [&](OpBuilder &nb, Location l, ValueRange a) {
                 Value zero = arith::ConstantOp::create(
                     nb, l, nb.getZeroAttr(a[0].getType()));
                 Value first = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::eq, a[1],
                     arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(0)));
                 linalg::YieldOp::create(nb, l,
                                         ValueRange{arith::SelectOp::create(
                                             nb, l, first, zero, a[0])});
               })
        .getResult(0);
  }

  /// hidden [1, S, H] -> model.norm(hidden): what lm_head reads, and what
  /// the MTP module takes as h_i.
  func::FuncOp getOrBuildFinalNorm(ModuleOp module, int64_t s) {
    auto hType = ty({1, s, c.hiddenSize}, act);
    return getOrBuildFunction(
        module, "final_norm" + suffix(s), b.getFunctionType({hType}, {hType}),
        [&](Block *body) {
          return rmsNorm(body->getArgument(0),
                         param("model.norm.weight", {c.hiddenSize}, dense));
        });
  }

  /// A private function of the given signature, built once by `fill`.
  func::FuncOp getOrBuildFunction(ModuleOp module, StringRef name,
                                  FunctionType type,
                                  llvm::function_ref<Value(Block *)> fill) {
    if (auto f = module.lookupSymbol<func::FuncOp>(name))
      return f;
    OpBuilder::InsertionGuard guard(b);
    // Before the entry that first calls it: callees read before callers.
    b.setInsertionPoint(entry);
    auto f = func::FuncOp::create(b, loc, name, type);
    f.setPrivate();
    Block *body = f.addEntryBlock();
    b.setInsertionPointToStart(body);
    func::ReturnOp::create(b, loc, fill(body));
    return f;
  }

  /// input_ids [1, S] -> hidden [1, S, H] (model.embed_tokens).
  func::FuncOp getOrBuildEmbed(ModuleOp module, int64_t s) {
    auto hType = ty({1, s, c.hiddenSize}, act);
    return getOrBuildFunction(
        module, "embed" + suffix(s),
        b.getFunctionType({ty({1, s}, i64)}, {hType}), [&](Block *body) {
          return EmbeddingOp::create(b, loc, hType, embedTable(),
                                     body->getArgument(0))
              .getResult();
        });
  }

  Value embedTable() {
    return param("model.embed_tokens.weight", {c.vocabSize, c.hiddenSize},
                 dense);
  }

  /// hidden [1, S, H] -> f32 logits of the last token [1, V] or of every
  /// token [S, V] (model.norm, then lm_head; for `mtp`, the MTP layer's
  /// shared_head.norm and shared_head.head).
  func::FuncOp getOrBuildHead(ModuleOp module, int64_t s, bool all,
                              bool mtp = false) {
    int64_t v = c.vocabSize;
    auto logitsType =
        all ? ty({s, v}, b.getF32Type()) : ty({1, v}, b.getF32Type());
    std::string mtpPrefix =
        llvm::formatv("model.layers.{0}.shared_head.", c.numHiddenLayers);
    return getOrBuildFunction(
        module, (mtp ? "mtp_head" : "head") + suffix(s) + (all ? "_all" : ""),
        b.getFunctionType({ty({1, s, c.hiddenSize}, act)}, {logitsType}),
        [&](Block *body) {
          Value h = rmsNorm(
              body->getArgument(0),
              param(mtp ? mtpPrefix + "norm.weight" : "model.norm.weight",
                    {c.hiddenSize}, dense));
          Value x;
          if (all) {
            x = tensor::CollapseShapeOp::create(
                b, loc, ty({s, c.hiddenSize}, act), h,
                SmallVector<ReassociationIndices>{{0, 1}, {2}});
          } else {
            // The last token's hidden state, [1, H].
            OpFoldResult last;
            if (!ShapedType::isDynamic(s))
              last = b.getIndexAttr(s - 1);
            else
              last = arith::SubIOp::create(
                         b, loc,
                         tensor::DimOp::create(b, loc, body->getArgument(0), 1),
                         arith::ConstantIndexOp::create(b, loc, 1))
                         .getResult();
            SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), last,
                                                 b.getIndexAttr(0)};
            SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                               b.getIndexAttr(1),
                                               b.getIndexAttr(c.hiddenSize)};
            SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
            x = tensor::ExtractSliceOp::create(
                b, loc, ty({1, c.hiddenSize}, act), h, offsets, sizes, strides);
          }
          if (o.quantizeLmHead) {
            // buildModel refuses tied embeddings with this option.
            auto [head, scales] =
                mtp ? quantizedParam(mtpPrefix + "head.weight",
                                     {v, c.hiddenSize}, "lm_head.weight")
                    : quantizedParam("lm_head.weight", {v, c.hiddenSize});
            return LinearOp::create(b, loc, logitsType, x, head, scales)
                .getResult();
          }
          Value head =
              mtp ? param(mtpPrefix + "head.weight", {v, c.hiddenSize}, dense,
                          c.tieWordEmbeddings ? "model.embed_tokens.weight"
                                              : "lm_head.weight")
              : c.tieWordEmbeddings
                  ? embedTable()
                  : param("lm_head.weight", {v, c.hiddenSize}, dense);
          return LinearOp::create(b, loc, logitsType, x, head, Value())
              .getResult();
        });
  }

  /// f32 logits [1, V] -> the index of the largest, i64 [1]: the first one
  /// on ties (as numpy's argmax and the runtime's greedy sampler), or -1
  /// when any logit is NaN (the runtime reports it). The reduction runs in
  /// index order, so "first" is well defined.
  func::FuncOp getOrBuildArgmax(ModuleOp module) {
    int64_t v = c.vocabSize;
    Type f32 = b.getF32Type();
    return getOrBuildFunction(
        module, "argmax", b.getFunctionType({ty({1, v}, f32)}, {ty({1}, i64)}),
        [&](Block *body) {
          auto fill = [&](Type t, TypedAttr value) {
            Value init =
                tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{1}, t);
            Value c0 = arith::ConstantOp::create(b, loc, value);
            return linalg::FillOp::create(b, loc, c0, init).getResult(0);
          };
          Value best = fill(
              f32, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
          Value index = fill(i64, b.getI64IntegerAttr(0));
          AffineExpr d0, d1;
          bindDims(ctx, d0, d1);
          auto reduce = linalg::GenericOp::create(
              b, loc, TypeRange{best.getType(), index.getType()},
              ValueRange{body->getArgument(0)}, ValueRange{best, index},
              ArrayRef<AffineMap>{AffineMap::get(2, 0, {d0, d1}, ctx),
                                  AffineMap::get(2, 0, {d0}, ctx),
                                  AffineMap::get(2, 0, {d0}, ctx)},
              ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                            utils::IteratorType::reduction},
              [&](OpBuilder &nb, Location l, ValueRange a) {
                Value x = a[0], cur = a[1], idx = a[2];
                Value i = arith::IndexCastOp::create(
                    nb, l, nb.getI64Type(), linalg::IndexOp::create(nb, l, 1));
                Value minus1 =
                    arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(-1));
                Value isNan = arith::CmpFOp::create(
                    nb, l, arith::CmpFPredicate::UNO, x, x);
                Value seenNan = arith::CmpIOp::create(
                    nb, l, arith::CmpIPredicate::eq, idx, minus1);
                // Strictly greater: a tie keeps the lower index.
                Value better = arith::CmpFOp::create(
                    nb, l, arith::CmpFPredicate::OGT, x, cur);
                Value nan = arith::OrIOp::create(nb, l, isNan, seenNan);
                Value newIdx = arith::SelectOp::create(
                    nb, l, nan, minus1,
                    arith::SelectOp::create(nb, l, better, i, idx));
                Value newBest = arith::SelectOp::create(nb, l, better, x, cur);
                linalg::YieldOp::create(nb, l, ValueRange{newBest, newIdx});
              });
          return reduce.getResult(1);
        });
  }

  MLIRContext *ctx;
  const ModelConfig &c;
  const ImportOptions &o;
  OpBuilder b;
  Location loc;
  Type act, weight, dense, i64;
  /// The entry being built.
  func::FuncOp entry;
};

} // namespace

llvm::Expected<OwningOpRef<ModuleOp>>
mlir::dsv3::import::buildModel(MLIRContext *ctx, const ModelConfig &config,
                               const ImportOptions &options) {
  if (options.maxSeqLen < 1 || options.maxSeqLen > (int64_t{1} << 24))
    return fail(llvm::formatv("--max-seq-len={0} is outside [1, 16777216]",
                              options.maxSeqLen));
  if (options.prefillTokens != ImportOptions::kDynamicTokens &&
      (options.prefillTokens < 1 || options.prefillTokens > options.maxSeqLen))
    return fail(llvm::formatv("--prefill-tokens={0} is neither 0 (dynamic) "
                              "nor in [1, max_seq_len = {1}]",
                              options.prefillTokens, options.maxSeqLen));
  if (options.mtp && config.numNextnPredictLayers < 1)
    return fail("the MTP module was asked for, but config.json has "
                "num_nextn_predict_layers = 0");
  if (options.quantizeLmHead && config.tieWordEmbeddings)
    return fail("--quantize-lm-head: the config ties lm_head to the "
                "embedding (tie_word_embeddings), whose rows are also "
                "gathered in bf16; quantizing a tied head is not supported");
  ctx->loadDialect<Dsv3Dialect, arith::ArithDialect, func::FuncDialect,
                   linalg::LinalgDialect, tensor::TensorDialect>();
  OwningOpRef<ModuleOp> module = ModelBuilder(ctx, config, options).build();
  // The ops' verifiers check the config combinations dsv3 cannot run (e.g.
  // a router whose top-k exceeds the experts of the kept groups).
  std::string msg;
  llvm::raw_string_ostream os(msg);
  // Every layer function of a kind fails alike; the first error says it.
  ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
    if (msg.empty())
      os << d;
    return success();
  });
  if (failed(verify(*module)))
    return fail("the config describes a model dsv3 cannot build:\n" + msg);
  return module;
}
