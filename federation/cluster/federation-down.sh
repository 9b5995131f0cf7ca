#!/usr/bin/env bash
# Unregisters the members and removes what federation-up.sh created (federation.cluster.federation_down).
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
federation_launch federation.cluster.federation_down "$@"
