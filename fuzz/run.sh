#!/usr/bin/env bash
# Runs each fuzz target for SECONDS on its seed corpus (fuzz/corpus/<target>)
# plus the corpus earlier runs grew (<out>/<target>/corpus), and prints
# execs/s, total execs and coverage from libFuzzer's final stats. Builds
# nothing: configure with -DDSV3_ENABLE_FUZZERS=ON and `ninja fuzzers` first
# (docs/fuzzing.md).
#
#   fuzz/run.sh SECONDS [TARGET...]     TARGET: safetensors npy metadata
#                                               checkpoint_index (the
#                                               default: these four), or
#                                               the compiler's config ir
# Environment:
#   DSV3_FUZZ_BIN  where the *_fuzzer binaries are (default build-fuzz/bin;
#                  build-fuzz-compiler/bin for config and ir)
#   DSV3_FUZZ_OUT  where corpora, logs and crash files go (default
#                  build-fuzz/fuzz-out, build-fuzz-compiler/fuzz-out)
#   DSV3_FUZZ_ARGS extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
# Exits 1 if any target crashed (or hit a timeout, leak or OOM); the input is
# left as <out>/<target>/crashes/crash-* (or timeout-*, leak-*, oom-*) and
# the log as <out>/<target>/log.txt. Reproduce with
#   <bin>/<target>_fuzzer <crash file>
set -u
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ || $1 -lt 1 ]]; then
  echo "usage: $0 SECONDS [TARGET...]" >&2
  exit 2
fi
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(safetensors npy metadata checkpoint_index)

# Reports go to the log; no symbolizer lookups beyond llvm-symbolizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
printf '%-17s %5s %12s %9s %6s %7s %7s  %s\n' target secs execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
  # The compiler's targets are built in their own directory (scripts/fuzz.sh).
  case $t in
    config|ir) build=$here/../build-fuzz-compiler ;;
    *) build=$here/../build-fuzz ;;
  esac
  bin=${DSV3_FUZZ_BIN:-$build/bin}
  out=${DSV3_FUZZ_OUT:-$build/fuzz-out}
  exe=$bin/${t}_fuzzer
  if [[ ! -x $exe ]]; then
    echo "$t: no $exe (configure with -DDSV3_ENABLE_FUZZERS=ON, build with" \
         "'ninja fuzzers', or set DSV3_FUZZ_BIN)" >&2
    exit 2
  fi
  if [[ ! -d $here/corpus/$t ]]; then
    echo "$t: no seed corpus $here/corpus/$t" >&2
    exit 2
  fi
  dir=$out/$t
  mkdir -p "$dir/corpus" "$dir/crashes"
  log=$dir/log.txt
  # The first corpus directory receives new inputs; the seeds stay as they
  # are.
  # shellcheck disable=SC2086
  "$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$dir/crashes/" ${DSV3_FUZZ_ARGS:-} \
    "$dir/corpus" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$log" | tail -1; }
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  result=ok
  if [[ $rc -ne 0 ]]; then
    result="FAILED (exit $rc)"
    status=1
  fi
  printf '%-17s %5s %12s %9s %6s %7s %7s  %s\n' "$t" "$secs" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$result"
  if [[ $rc -ne 0 ]]; then
    grep -E 'ERROR: |SUMMARY: |fuzz oracle: |terminate called|what\(\)' "$log" | head -5 | sed 's/^/    /'
    grep -E 'Test unit written to' "$log" | sed 's/^/    /'
    echo "    log: $log"
  fi
done
exit $status
