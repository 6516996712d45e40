#!/usr/bin/env bash
# Validates the CI files offline: the release workflow and the recipes in examples/ci/ against
# their JSON schemas (check-jsonschema's built-in copies, no network at validation time), and the
# GitHub workflows with zizmor (offline audits; any finding of medium severity or above fails).
# Installs both tools, pinned, into a venv kept under ${TMPDIR:-/tmp}.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK_JSONSCHEMA_VERSION=0.39.0
ZIZMOR_VERSION=1.33.1

venv="${TMPDIR:-/tmp}/relay-audit-ci-venv"
want="check-jsonschema==$CHECK_JSONSCHEMA_VERSION zizmor==$ZIZMOR_VERSION"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ "$(cat "$venv/.pinned" 2>/dev/null || true)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $want
  echo "$want" > "$venv/.pinned"
fi

echo "== check-jsonschema $("$venv/bin/check-jsonschema" --version | awk '{print $NF}'), zizmor $("$venv/bin/zizmor" --version | awk '{print $NF}')"

github=(.github/workflows/*.yml examples/ci/github/*.yml)
echo "== GitHub Actions schema: ${github[*]}"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${github[@]}"

# The Azure schema has patterns that are not valid ECMAScript in unicode mode (regress rejects
# them): read its patterns as ECMAScript without the u flag, as they were written.
echo "== Azure Pipelines schema: examples/ci/azure/azure-pipelines.yml"
"$venv/bin/check-jsonschema" --regex-variant nonunicode --builtin-schema vendor.azure-pipelines examples/ci/azure/azure-pipelines.yml

echo "== GitLab CI schema: examples/ci/gitlab/.gitlab-ci.yml"
"$venv/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci examples/ci/gitlab/.gitlab-ci.yml

# Offline: no audit that needs the GitHub API. Exits non-zero on any finding at or above medium.
# The recipes are named file by file: given a folder, zizmor only collects .github/workflows/
# under it, and a folder with none is skipped without a word when another input has some.
echo "== zizmor (offline, medium and above): .github/workflows/ examples/ci/github/*.yml"
"$venv/bin/zizmor" --offline --no-progress --color never --min-severity medium \
  .github/workflows/ examples/ci/github/*.yml

echo "validate-workflows: all CI files valid"
