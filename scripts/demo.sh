#!/usr/bin/env bash
# make demo: what aibench-plugins does today, on the embedded example bundles.
set -euo pipefail
cd "$(dirname "$0")/.."
aibench=.venv/bin/aibench
export AIBENCH_HOME="${AIBENCH_HOME:-$PWD/out/demo-home}"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step aibench plugins list
$aibench plugins list
step aibench validate bundles/iris-v2
$aibench validate bundles/iris-v2

step aibench run bundles/iris-v2 examples/submissions/iris-v2/good
$aibench run bundles/iris-v2 examples/submissions/iris-v2/good
step aibench run bundles/wine-v1 examples/submissions/wine-v1/good          "# a CodaLab v1 bundle"
$aibench run bundles/wine-v1 examples/submissions/wine-v1/good
step aibench run bundles/digits-ingestion-v2 examples/submissions/digits-ingestion-v2/good --platform ai4mediabench
$aibench run bundles/digits-ingestion-v2 examples/submissions/digits-ingestion-v2/good --platform ai4mediabench
step aibench run bundles/digits-ingestion-v2 examples/submissions/digits-ingestion-v2/crash
$aibench run bundles/digits-ingestion-v2 examples/submissions/digits-ingestion-v2/crash \
  || echo "(exit status $? as expected: the submission crashes; the message is the platform's)"

mkdir -p out
step aibench wrap bundles/iris-v2 -o out/iris-v2-wrapped.zip   "# a bundle the platform's own worker runs with the plugins"
$aibench wrap bundles/iris-v2 -o out/iris-v2-wrapped.zip
step aibench run out/iris-v2-wrapped.zip examples/submissions/iris-v2/good   "# the plugins now run inside its scoring program"
# the wrapped scoring program runs python3 with numpy and pandas, as the platforms' images have: this venv's here
PATH="$PWD/.venv/bin:$PATH" $aibench run out/iris-v2-wrapped.zip examples/submissions/iris-v2/good

broken=$(mktemp -d)
trap 'rm -rf "$broken"' EXIT
cp -r bundles/iris-v2 "$broken/iris-v2"
cat > "$broken/iris-v2/aibench.json" <<'JSON'
{
  "schema_version": 1,
  "colour": "blue",
  "metrics": [
    {"use": "aibench.balanced_acuracy", "key": "balanced_accuracy"},
    {"use": "aibench.f1", "key": "macro_f1", "precision": "4"}
  ],
  "data": {"predictions": {"file": "predictions.csv", "id": "id", "columns": ["label"]},
           "references": {"file": "labels.csv", "id": "id", "columns": ["label"]}}
}
JSON
step "aibench validate <copy of iris-v2 with three planted mistakes>"
$aibench validate "$broken/iris-v2" || echo "(exit status $? as expected: the manifest has problems)"

step aibench history
$aibench history
