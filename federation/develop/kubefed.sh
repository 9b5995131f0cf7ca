#!/usr/bin/env bash
# Registers member clusters with a federation and removes them (federation.develop.kubefed).
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
federation_launch federation.develop.kubefed "$@"
