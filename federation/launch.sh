# Sourced by the launchers at the legacy script paths (federation/deploy/deploy.sh
# and the others): runs a Python module of this checkout with the caller's arguments.
#
# The interpreter is $FEDERATION_PYTHON when set, else the checkout's .venv
# (made by the README's install command), else python3 from PATH.

federation_launch() {
  local module=$1
  shift
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local python=${FEDERATION_PYTHON:-}
  if [[ -z ${python} ]]; then
    if [[ -x ${root}/.venv/bin/python ]]; then
      python=${root}/.venv/bin/python
    else
      python=python3
    fi
  fi
  PYTHONPATH="${root}${PYTHONPATH:+:${PYTHONPATH}}" exec "${python}" -m "${module}" "$@"
}
