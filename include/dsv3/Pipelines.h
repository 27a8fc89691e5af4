//===- Pipelines.h - the named end-to-end pipelines -------------*- C++ -*-===//
//
// One place to read the whole flow from a dsv3 graph to LLVM dialect for each
// target. dsv3-compile runs these and stops after any stage (--emit=STAGE);
// dsv3-opt exposes them as dsv3-host-pipeline / dsv3-cuda-pipeline.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_PIPELINES_H
#define DSV3_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include <optional>
#include <string>

namespace mlir::dsv3 {

/// Stages a pipeline can stop after, in order.
enum class Stage {
  Linalg,     ///< dsv3 ops lowered to linalg on tensors, parameters outlined
  Bufferized, ///< one-shot bufferized, results turned into out-params
  GPU,        ///< cuda only: kernels outlined into gpu.module
  LLVM,       ///< LLVM dialect with the module ABI, ready for translation
};

/// Parses a stage name (linalg, bufferized, gpu, llvm).
std::optional<Stage> parseStage(llvm::StringRef name);

struct CudaOptions {
  std::string chip = "sm_90a";
  std::string features = "+ptx80";
  /// Toolkit with ptxas/fatbinary; empty = $CUDA_HOME or PATH.
  std::string toolkit;
  /// gpu-module-to-binary format: fatbin (default), bin or isa (PTX text).
  std::string format = "fatbin";
  /// Cache rows per key tile of the split-KV decode attention kernel
  /// (dsv3-gpu-latent-attention{keys-per-block}; 0: its default, 256).
  int64_t kvSplitSize = 0;
  /// The x86-64 level of the module's host code (see HostOptions).
  std::string x86Level;
};

struct HostOptions {
  /// Minimum keys per tile of split-KV decode attention (0: off; host
  /// decode already has enough rows for its few cores).
  int64_t kvSplitSize = 0;
  /// Decode attention and cache updates touch only rows below kv_len and
  /// the new rows (dsv3-lower-to-linalg{bound-by-kv-len}).
  bool boundByKvLen = true;
  /// cuda-sim: the cuda strategy's kernels instead of the host table's,
  /// their thread foralls run serially, phase by phase
  /// (dsv3-gpu-serialize-threads); shared memory is plain memory.
  bool cudaStrategy = false;
  /// f32 lanes of the host kernels' vectors (dsv3-host-vectorize-fp8-linear
  /// {vector-width}): 8 for AVX2, 16 for AVX-512 (a module built with an
  /// -march that has it).
  int64_t vectorWidth = 8;
  /// The x86-64 level the module's code is compiled for (its -march), which
  /// the runtime checks at load; empty: not recorded.
  std::string x86Level;
};

/// Graph -> linalg: decompose whole blocks (dsv3.mla, dsv3.moe), run the
/// target's graph-level strategy (`strategy`, may be null) on the primitive
/// dsv3 ops, outline parameters, record the ABI, lower dsv3 ops to linalg.
/// `x86Level` is recorded in the metadata (dsv3-annotate-abi{x86-64-level}).
void buildGraphToLinalgPipeline(
    OpPassManager &pm, llvm::StringRef target,
    llvm::function_ref<void(OpPassManager &)> strategy = nullptr,
    bool boundByKvLen = false, llvm::StringRef x86Level = "");

/// Host (LLVM x86) pipeline, stopping after `stop`.
void buildHostPipeline(OpPassManager &pm, Stage stop = Stage::LLVM,
                       const HostOptions &options = {});

/// CUDA (NVVM -> PTX -> cubin via ptxas) pipeline, stopping after `stop`.
void buildCudaPipeline(OpPassManager &pm, const CudaOptions &options,
                       Stage stop = Stage::LLVM);

/// The cuda strategy's kernel passes (before dsv3-lower-to-linalg); with
/// `sharedMemory` false, their shared buffers are plain memory (cuda-sim).
/// `kvSplitSize` > 0 sets the attention kernel's key tile.
void addCudaStrategy(OpPassManager &pm, bool sharedMemory, int64_t kvSplitSize);

/// Registers dsv3-host-pipeline, dsv3-cuda-sim-pipeline and
/// dsv3-cuda-pipeline with the pass registry (for dsv3-opt).
void registerDsv3Pipelines();

} // namespace mlir::dsv3

#endif // DSV3_PIPELINES_H
