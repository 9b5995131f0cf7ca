"""Settings of develop.sh and push-federation-images.sh, read from the original variables.

| Variable | Default | Effect |
|---|---|---|
| KUBE_ROOT | required by build_binaries, build_image and push-federation-images.sh | Kubernetes source tree that is built and versioned |
| OUT_DIR | _output | build output directory under KUBE_ROOT |
| FEDERATION_OUTPUT_ROOT | ${KUBE_ROOT}/${OUT_DIR}/federation | versions file and values.yaml |
| KUBERNETES_PROVIDER | gce | gce and gke default KUBE_REGISTRY to gcr.io/<project> |
| KUBE_PROJECT, PROJECT | gcloud's project on gce/gke, else federation | project in the default KUBE_REGISTRY |
| KUBE_REGISTRY | gcr.io/<project> on gce/gke, else localhost:5000/<project> | registry of hyperkube-<arch> |
| KUBE_VERSION | derived from KUBE_ROOT's git state | image tag |
| KUBE_PLATFORM, KUBE_ARCH | linux, amd64 | which built binary goes into the image |
| BASEIMAGE | ubuntu:16.04 (develop.sh), debian:jessie (push-federation-images.sh) | base of the image; must be stored locally unless --pull is given |
| CONTAINER_ENGINE | docker | docker or podman |
| KIND_CLUSTERS | empty | push loads the image into these kind clusters instead of a registry |
"""

from __future__ import annotations

import re
from pathlib import Path

from federation.core.environment import Environment
from federation.core.errors import InvalidInput
from federation.core.gcloud import gcr_repository, load_config
from federation.core.validation import image_repository, image_tag

GCLOUD_PROVIDERS = ("gce", "gke")
DEFAULT_BUILD_TARGETS = "cmd/kubectl cmd/hyperkube"


def kube_root(env: Environment) -> Path:
    """Return ``KUBE_ROOT``, which must be a Kubernetes source tree (a Makefile and a cmd/ directory)."""
    raw = env.value("KUBE_ROOT")
    if not raw:
        raise InvalidInput(
            "KUBE_ROOT is not set",
            hint="set KUBE_ROOT to the root of a Kubernetes source checkout, e.g. KUBE_ROOT=$HOME/go/src/k8s.io/kubernetes",
        )

    root = Path(raw).expanduser()
    missing = [name for name in ("Makefile", "cmd") if not (root / name).exists()]
    if not root.is_dir() or missing:
        problem = "is not a directory" if not root.is_dir() else f"is not a Kubernetes source tree (no {' and no '.join(missing)})"
        raise InvalidInput.variable("KUBE_ROOT", raw, problem, "set KUBE_ROOT to the root of a Kubernetes source checkout, the directory with its Makefile and cmd/")
    return root.resolve()


def local_output_root(env: Environment, root: Path) -> Path:
    """Return ``${KUBE_ROOT}/${OUT_DIR:-_output}``."""
    return root / env.value("OUT_DIR", "_output")


def output_root(env: Environment) -> Path:
    """Return ``FEDERATION_OUTPUT_ROOT``, defaulting to ``${KUBE_ROOT}/${OUT_DIR}/federation`` as the original forced."""
    raw = env.value("FEDERATION_OUTPUT_ROOT")
    if raw:
        path = Path(raw).expanduser()
        if path.exists() and not path.is_dir():
            raise InvalidInput.variable("FEDERATION_OUTPUT_ROOT", raw, "is a file, not a directory", "point it at a directory, or unset it to use ${KUBE_ROOT}/_output/federation")
        return path.resolve()

    if not env.value("KUBE_ROOT"):
        raise InvalidInput(
            "neither FEDERATION_OUTPUT_ROOT nor KUBE_ROOT is set, so there is no place for the versions file and values.yaml",
            hint="set FEDERATION_OUTPUT_ROOT to a directory, or KUBE_ROOT to a Kubernetes checkout",
        )
    return local_output_root(env, kube_root(env)) / "federation"


def provider(env: Environment) -> str:
    return env.value("KUBERNETES_PROVIDER", "gce")


def project(env: Environment, purpose: str) -> str:
    """Return ``KUBE_PROJECT``, ``PROJECT``, gcloud's project on gce/gke, or ``federation``."""
    name = env.value("KUBE_PROJECT") or env.value("PROJECT")
    if name:
        return name
    if provider(env) not in GCLOUD_PROVIDERS:
        return "federation"

    config = load_config(env)
    if not config.project:
        raise InvalidInput(
            f"{purpose} defaults to gcr.io/<project> on KUBERNETES_PROVIDER={provider(env)}, but no gcloud project is configured",
            hint=f"set {purpose} (e.g. localhost:5000/federation), or KUBE_PROJECT, or run 'gcloud config set project NAME'",
        )
    return config.project


def kube_registry(env: Environment) -> str:
    """Return ``KUBE_REGISTRY`` or its provider default, checked as an image repository."""
    raw = env.value("KUBE_REGISTRY")
    if raw:
        return checked_registry("KUBE_REGISTRY", raw)
    if provider(env) in GCLOUD_PROVIDERS:
        return checked_registry("KUBE_REGISTRY", gcr_repository(project(env, "KUBE_REGISTRY")))
    return checked_registry("KUBE_REGISTRY", f"localhost:5000/{project(env, 'KUBE_REGISTRY')}")


def push_repo_base(env: Environment) -> str:
    """Return ``FEDERATION_PUSH_REPO_BASE``, or ``gcr.io/<project>`` on gce/gke with gcloud configured."""
    raw = env.value("FEDERATION_PUSH_REPO_BASE")
    if raw:
        return checked_registry("FEDERATION_PUSH_REPO_BASE", raw)
    if provider(env) in GCLOUD_PROVIDERS:
        return checked_registry("FEDERATION_PUSH_REPO_BASE", gcr_repository(project(env, "FEDERATION_PUSH_REPO_BASE")))
    raise InvalidInput(
        "FEDERATION_PUSH_REPO_BASE is not set",
        hint="set FEDERATION_PUSH_REPO_BASE to the repository to push to, e.g. 127.0.0.1:5000/federation or gcr.io/my-project",
    )


def checked_registry(name: str, value: str) -> str:
    """Reject uppercase letters, white space and anything else Docker would not accept as a repository."""
    if re.search(r"\s", value):
        raise InvalidInput.variable(name, value, "contains white space", f"remove the spaces from {name}, e.g. localhost:5000/federation")
    if any(character.isupper() for character in value):
        raise InvalidInput.variable(name, value, "contains uppercase letters, which image names may not", f"set {name} to {value.lower()!r}")
    return image_repository(name, value.rstrip("/"))


def checked_tag(name: str, value: str) -> str:
    """Turn ``+`` into ``_`` as the original did, then check the image tag."""
    return image_tag(name, value.replace("+", "_"))


def kind_clusters(env: Environment, flags: list[str]) -> list[str]:
    """Return the kind clusters from ``--kind-cluster`` flags, else from ``KIND_CLUSTERS`` (space or comma separated)."""
    names = flags or [name for name in re.split(r"[\s,]+", env.value("KIND_CLUSTERS")) if name]
    for name in names:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
            raise InvalidInput.variable("KIND_CLUSTERS", name, "is not a kind cluster name", "use the names 'kind get clusters' prints")
    return names


def built_binary(env: Environment, root: Path, name: str, extra: list[Path] = ()) -> Path:
    """Return the newest built ``name`` among ``extra`` and the dockerized and local outputs."""
    platform = env.value("KUBE_PLATFORM", "linux")
    arch = env.value("KUBE_ARCH", "amd64")
    output = local_output_root(env, root)
    candidates = [*extra, output / "dockerized" / "bin" / platform / arch / name, output / "local" / "bin" / platform / arch / name]

    found = [path for path in candidates if path.is_file()]
    if not found:
        listing = ", ".join(str(path) for path in candidates)
        raise InvalidInput(
            f"no built {name} found in KUBE_ROOT={str(root)!r}: looked for {listing}",
            hint="run develop.sh build_binaries first (KUBE_PLATFORM and KUBE_ARCH pick the directory)",
        )
    return max(found, key=lambda path: path.stat().st_mtime)


def arch(env: Environment) -> str:
    return env.value("KUBE_ARCH", "amd64")
