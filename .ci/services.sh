#!/usr/bin/env bash
# Installs and starts what the image tests need: a Docker engine and an image
# registry on 127.0.0.1:5000, plus busybox-static for the tests' base image.
# Idempotent: packages already installed and services already listening are
# left as they are. Run as root (CI runs it from .ci/run).
#
# Variables:
#   FEDERATION_SERVICES_DIR  logs, pid files and registry storage (default /var/tmp/federation-services)
#   SERVICES_WAIT_SECONDS    how long to wait for each service to answer (default 60)
set -euo pipefail

state_dir=${FEDERATION_SERVICES_DIR:-/var/tmp/federation-services}
wait_seconds=${SERVICES_WAIT_SECONDS:-60}
registry_host=127.0.0.1
registry_port=5000

log() { printf '%s\n' "services: $*" >&2; }
die() { printf '%s\n' "services: error: $*" >&2; exit 1; }

port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() {
  local what=$1 logfile=$2
  shift 2
  local deadline=$((SECONDS + wait_seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "${logfile}" >&2 || true
      die "${what} did not respond within ${wait_seconds}s; its log is ${logfile}"
    fi
    sleep 1
  done
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
  ((${#missing[@]} == 0)) && return 0

  [[ $(id -u) == 0 ]] || die "missing packages ${missing[*]}; install them or run this script as root"
  log "installing ${missing[*]}"

  # Keep the packages' own services from starting: Debian's docker-registry
  # service would listen on every interface with its default configuration.
  local policy=/usr/sbin/policy-rc.d created_policy=false
  if [[ ! -e ${policy} ]]; then
    printf '#!/bin/sh\nexit 101\n' >"${policy}"
    chmod 755 "${policy}"
    created_policy=true
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } || status=$?
  [[ ${created_policy} == true ]] && rm -f "${policy}"
  ((status == 0)) || die "apt-get install ${missing[*]} failed (exit ${status})"
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "docker engine already running"
    return 0
  fi
  log "starting dockerd (log: ${state_dir}/dockerd.log)"
  # No bridge and no iptables rules: builds and test containers use --network=none.
  nohup dockerd --bridge=none --iptables=false --ip6tables=false >"${state_dir}/dockerd.log" 2>&1 &
  echo $! >"${state_dir}/dockerd.pid"
  wait_for "dockerd" "${state_dir}/dockerd.log" docker info
}

start_registry() {
  if port_open "${registry_host}" "${registry_port}"; then
    log "something already listens on ${registry_host}:${registry_port}; using it as the registry"
    return 0
  fi
  local storage
  storage=$(mktemp -d "${state_dir}/registry-storage.XXXXXX")
  cat >"${state_dir}/registry.yml" <<CONFIG
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: ${registry_host}:${registry_port}
CONFIG
  log "starting docker-registry on ${registry_host}:${registry_port} (log: ${state_dir}/registry.log)"
  nohup docker-registry serve "${state_dir}/registry.yml" >"${state_dir}/registry.log" 2>&1 &
  echo $! >"${state_dir}/registry.pid"
  wait_for "docker-registry" "${state_dir}/registry.log" port_open "${registry_host}" "${registry_port}"
}

mkdir -p "${state_dir}"
install_packages
start_dockerd
start_registry
log "ready: docker $(docker version --format '{{.Server.Version}}'), registry ${registry_host}:${registry_port}"
