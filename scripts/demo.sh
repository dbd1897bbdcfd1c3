#!/usr/bin/env bash
# make demo: what aibench-plugins does today, on the embedded iris example bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
aibench=.venv/bin/aibench
bundle=bundles/iris-v2

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step aibench --version
$aibench --version
step aibench plugins list
$aibench plugins list
step cat $bundle/aibench.json
cat $bundle/aibench.json
step aibench validate $bundle
$aibench validate $bundle

broken=$(mktemp -d)
trap 'rm -rf "$broken"' EXIT
cp -r $bundle "$broken/iris-v2"
cat > "$broken/iris-v2/aibench.json" <<'JSON'
{
  "schema_version": 1,
  "colour": "blue",
  "metrics": [
    {"use": "aibench.balanced_acuracy", "key": "balanced_accuracy"},
    {"use": "aibench.f1", "key": "macro_f1", "precision": "4"}
  ]
}
JSON
step "aibench validate <copy with three planted mistakes>"
$aibench validate "$broken/iris-v2" || echo "(exit status $? as expected: the manifest has problems)"
