#!/usr/bin/env bash
# The main job on the bundled default: a spec from a preset -> validated -> rendered for the
# target -> checked by Axolotl's own validator. (Grows into train -> merge -> GGUF -> eval as
# `axowrap run` lands.)
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
cp -r data "$work/"
cd "$work"
axowrap tasks
axowrap new --task sql --data data/sql.jsonl --target cpu -o sql.yaml
cat sql.yaml
axowrap validate sql.yaml
axowrap render sql.yaml -o sql.axolotl.yaml
axowrap validate --deep sql.axolotl.yaml sql.yaml
axowrap validate --deep --target h100-80gb:8 sql.yaml
echo "demo outputs in $work"
