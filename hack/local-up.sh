#!/usr/bin/env bash
# Quick start: installs the project into .venv, then deploys a federation
# control plane on local clusters and shows it working.
#
#   hack/local-up.sh              simulated clusters (kubesim, a test double)
#   hack/local-up.sh --kind       kind clusters; falls back to simulated ones,
#                                 saying so, when kind or Docker is missing
#   FEDERATION_HOST_CLUSTER_CONTEXT=ctx hack/local-up.sh
#                                 a real cluster of your kubeconfig
#
# Add --keep to leave the clusters running until Ctrl-C.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root}"

if [[ ! -x .venv/bin/python ]]; then
  echo "Creating .venv and installing the project (first run only) ..." >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import federation, kubernetes, sh, aiohttp' 2>/dev/null \
   || [[ ! -x .venv/bin/kubectl ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
fi

exec .venv/bin/python hack/local_up.py "$@"
