#!/usr/bin/env bash
# Builds and pushes ${FEDERATION_PUSH_REPO_BASE}/hyperkube:<tag> (federation.develop.push_images).
source "$(dirname "${BASH_SOURCE[0]}")/../federation/launch.sh"
federation_launch federation.develop.push_images "$@"
