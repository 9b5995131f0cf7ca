#!/usr/bin/env bash
# Builds and pushes the hyperkube image and forwards deploy actions (federation.develop.develop).
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
federation_launch federation.develop.develop "$@"
