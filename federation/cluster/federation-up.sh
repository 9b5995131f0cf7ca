#!/usr/bin/env bash
# Brings up the federation control plane and registers the members (federation.cluster.federation_up).
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
federation_launch federation.cluster.federation_up "$@"
