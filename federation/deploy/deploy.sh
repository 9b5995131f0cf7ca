#!/usr/bin/env bash
# Deploys the federation control plane into a host cluster (federation.deploy.deploy).
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
federation_launch federation.deploy.deploy "$@"
