"""Run the quick start: deploy a federation control plane on local clusters and show it.

Called by hack/local-up.sh after the install. Clusters are simulated by
kubesim unless --kind is given and kind works, or FEDERATION_HOST_CLUSTER_CONTEXT
names a cluster of the user's kubeconfig.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPLOY = ROOT / "federation/deploy/deploy.sh"
OUTPUT = ROOT / "_output/local-up"
KUBECTL = str(Path(sys.executable).parent / "kubectl") if (Path(sys.executable).parent / "kubectl").exists() else "kubectl"
MEMBERS = ["sim-member1", "sim-member2"]
KIND_VERSIONS = ROOT / "hack/kind/versions.env"


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run(command: list[str], env: dict[str, str], check: bool = True) -> int:
    print(f"$ {' '.join(command)}", flush=True)
    code = subprocess.call(command, env=env)
    if check and code != 0:
        sys.exit(code)
    return code


def node_image() -> str:
    """Return the kind node image: KIND_NODE_IMAGE, else the one pinned in hack/kind/versions.env."""
    if os.environ.get("KIND_NODE_IMAGE"):
        return os.environ["KIND_NODE_IMAGE"]
    for line in KIND_VERSIONS.read_text().splitlines():
        if line.startswith("KIND_NODE_IMAGE="):
            return line.split("=", 1)[1].strip()
    raise SystemExit(f"error: {KIND_VERSIONS} has no KIND_NODE_IMAGE line")


def kind_problem(image: str) -> str | None:
    """Return why kind clusters cannot be made here, or None."""
    if not shutil.which("kind"):
        return "kind is not installed"
    if not shutil.which("docker"):
        return "docker is not installed"
    if subprocess.call(["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30) != 0:
        return "the Docker daemon is not reachable"
    if subprocess.call(["docker", "image", "inspect", image], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30) != 0:
        return f"the node image is not present; pull it first: docker pull {image}"
    return None


def deploy(env: dict[str, str], members: list[str]) -> None:
    run([str(DEPLOY), "init"], env)
    run([str(DEPLOY), "deploy_federation"], env)
    if members and (ROOT / "federation/core/registration").exists():
        run([str(DEPLOY), "join_clusters"], {**env, "FEDERATION_CLUSTERS": ",".join(members)})
    banner("kubectl get deployments --namespace=federation")
    run([KUBECTL, f"--context={env['FEDERATION_HOST_CLUSTER_CONTEXT']}", "get", "deployments", "--namespace=federation"], env)
    banner("kubectl --context=federation-cluster get clusters")
    run([KUBECTL, "--context=federation-cluster", "get", "clusters"], env)


def main() -> int:
    parser = argparse.ArgumentParser(prog="hack/local-up.sh", description=__doc__)
    parser.add_argument("--kind", action="store_true", help="use kind clusters when kind and Docker work")
    parser.add_argument("--simulated", action="store_true", help="use simulated clusters even if a host context is configured")
    parser.add_argument("--keep", action="store_true", help="leave the clusters running until Ctrl-C")
    args = parser.parse_args()

    OUTPUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "FEDERATION_OUTPUT_ROOT": str(OUTPUT / "federation"), "FEDERATION_PYTHON": sys.executable}

    if os.environ.get("FEDERATION_HOST_CLUSTER_CONTEXT") and not args.simulated:
        banner(f"Deploying into your cluster {os.environ['FEDERATION_HOST_CLUSTER_CONTEXT']!r} (real, from your kubeconfig)")
        deploy(env, [])
        return 0

    if args.kind:
        image = node_image()
        problem = kind_problem(image)
        if problem is None:
            return kind_up(env, args.keep, image)
        banner(f"kind cannot run here ({problem}): falling back to SIMULATED clusters")

    return simulated_up(env, args.keep)


def simulated_up(env: dict[str, str], keep: bool) -> int:
    from kubesim import ClusterSpec, SimulatedClusters

    kubeconfig = OUTPUT / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    specs = [ClusterSpec("host", context="sim-host"), ClusterSpec("member1", context="sim-member1"), ClusterSpec("member2", context="sim-member2", dns="kube-dns")]
    banner("Starting three SIMULATED clusters (kubesim: a test double on 127.0.0.1; no container runs)")
    with SimulatedClusters(specs, kubeconfig) as sim:
        for cluster in sim.clusters.values():
            print(f"  {cluster.context}: {cluster.url}")
        # "local" gives the NodePort Service a cluster without a load balancer needs, without kind's container-address rewrite.
        env = {**env, "KUBECONFIG": str(kubeconfig), "KUBERNETES_PROVIDER": "local", "FEDERATION_HOST_CLUSTER_CONTEXT": "sim-host"}
        deploy(env, MEMBERS)
        banner("Done. The clusters above were SIMULATED.")
        print(
            "To deploy into a real cluster instead:\n"
            "  FEDERATION_OUTPUT_ROOT=$PWD/_output/federation federation/deploy/deploy.sh init\n"
            "  FEDERATION_HOST_CLUSTER_CONTEXT=<your context> FEDERATION_OUTPUT_ROOT=$PWD/_output/federation federation/deploy/deploy.sh deploy_federation\n"
            "(KUBERNETES_PROVIDER=kind for clusters without a load balancer.)"
        )
        if keep:
            print(f"\nClusters keep running; in another shell: export KUBECONFIG={kubeconfig}\nPress Ctrl-C to stop them.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


def kind_up(env: dict[str, str], keep: bool, image: str) -> int:
    kubeconfig = OUTPUT / "kind-kubeconfig"
    env = {**env, "KUBECONFIG": str(kubeconfig), "KUBERNETES_PROVIDER": "kind", "FEDERATION_HOST_CLUSTER_CONTEXT": "kind-host"}
    existing = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True).stdout.split()
    for name in ("host", "member1", "member2"):
        if name not in existing:
            run(["kind", "create", "cluster", "--name", name, "--image", image, "--kubeconfig", str(kubeconfig)], env)
    banner(f"kind clusters kind-host, kind-member1, kind-member2 are up (real clusters, {image})")
    print("NOTE: the federation images must be pullable by the nodes or loaded with develop.sh push --kind-cluster; see the README.")
    deploy(env, ["kind-member1", "kind-member2"])
    if not keep:
        print(f"The kind clusters keep running; delete them with: kind delete clusters host member1 member2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
