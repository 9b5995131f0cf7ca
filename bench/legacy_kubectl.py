"""The baseline: deploy_federation's objects created the legacy way, one kubectl process per object.

The original federation-up.sh rendered each manifest with template.go and
piped it to ``kubectl create -f -`` (``kubectl apply -f -`` for the
namespace), wrote kubeconfig entries with ``kubectl config set-cluster``,
``set-credentials`` and ``set-context``, and waited by polling ``kubectl get``
with sleeps: up to 30 tries 5 s apart for the load-balancer address, and up
to 30 tries 4 s apart for each pod to be Running. This script does the same
for the objects deploy.sh writes, built by the same chart functions, so both
sides create identical objects. It never uses the scripts' API client.

    python -m bench.legacy_kubectl --kubeconfig FILE --context HOST --output-root DIR

prints one JSON document: wall seconds, kubectl processes run, polls, and the
seconds spent sleeping between polls.

Certificates are issued in-process with ``federation.core.credentials``. The
original downloaded easy-rsa with curl and ran it, which would only add time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

KUBECTL = Path(sys.executable).parent / "kubectl"
KUBECTL_TIMEOUT = 60  # seconds for one kubectl process
LOAD_BALANCER_TRIES = 30
LOAD_BALANCER_INTERVAL = 5.0  # seconds between two reads of the Service, as the original
POD_TRIES = 30
POD_INTERVAL = 4.0  # seconds between two reads of the pod phase, as the original


@dataclass
class Tally:
    """What one baseline run did."""

    seconds: float = 0.0
    kubectl_processes: int = 0
    polls: int = 0
    sleep_seconds: float = 0.0


class Kubectl:
    """Runs kubectl processes against one context and counts them."""

    def __init__(self, kubeconfig: Path, context: str, tally: Tally) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.tally = tally

    def run(self, *args: str, stdin: str | None = None, context: bool = True) -> str:
        argv = [str(KUBECTL), f"--kubeconfig={self.kubeconfig}", *([f"--context={self.context}"] if context else []), *args]
        self.tally.kubectl_processes += 1
        completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT, env=os.environ.copy())
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[1:])} failed ({completed.returncode}): {completed.stderr.strip()}")
        return completed.stdout

    def create(self, obj: dict, verb: str = "create") -> None:
        self.run(verb, "-f", "-", stdin=yaml.safe_dump(obj))


def poll(read, tries: int, interval: float, tally: Tally) -> str:
    """Call ``read`` until it returns a non-empty string, sleeping ``interval`` between tries."""
    for attempt in range(tries):
        tally.polls += 1
        value = read()
        if value:
            return value
        if attempt + 1 < tries:
            tally.sleep_seconds += interval
            time.sleep(interval)
    raise RuntimeError(f"gave up after {tries} tries")


def write_kubeconfig_entries(kubectl: Kubectl, path: Path, name: str, server: str, token: str, password: str, ca_file: Path | None) -> None:
    """Write cluster, users and context ``name`` to ``path`` with four ``kubectl config`` processes, as create-kubeconfig did."""
    target = f"--kubeconfig={path}"
    cluster = ["config", "set-cluster", name, f"--server={server}", target]
    cluster += [f"--certificate-authority={ca_file}", "--embed-certs=true"] if ca_file else ["--insecure-skip-tls-verify=true"]
    kubectl.run(*cluster, context=False)
    kubectl.run("config", "set-credentials", name, f"--token={token}", target, context=False)
    kubectl.run("config", "set-credentials", f"{name}-basic-auth", "--username=admin", f"--password={password}", target, context=False)
    kubectl.run("config", "set-context", name, f"--cluster={name}", f"--user={name}", target, context=False)


def deploy(kubeconfig: Path, context: str, output_root: Path) -> Tally:
    from federation.core.credentials import serving_credentials
    from federation.deploy import chart
    from federation.deploy.control_plane import generated_values

    tally = Tally()
    started = time.perf_counter()
    kubectl = Kubectl(kubeconfig, context, tally)
    values = chart.load_values(output_root / "values.yaml", "gce")
    namespace, apiserver = values["namespace"], values["apiserverName"]

    kubectl.create(chart.namespace(values), verb="apply")
    kubectl.create(chart.service(values))

    def ingress() -> str:
        if "ingress" not in kubectl.run("get", "service", apiserver, f"--namespace={namespace}", "-o", "jsonpath={.status.loadBalancer}"):
            return ""
        return kubectl.run("get", "service", apiserver, f"--namespace={namespace}", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}").strip()

    endpoint = poll(ingress, LOAD_BALANCER_TRIES, LOAD_BALANCER_INTERVAL, tally)

    sans = [endpoint, apiserver, f"{apiserver}.{namespace}", f"{apiserver}.{namespace}.svc", f"{apiserver}.{namespace}.svc.cluster.local"]
    credentials, _ = serving_credentials(None, apiserver, sans)
    with tempfile.TemporaryDirectory(prefix="legacy-kubectl-") as scratch:
        controller_kubeconfig = Path(scratch) / "kubeconfig"
        name = "federation-cluster"
        write_kubeconfig_entries(kubectl, controller_kubeconfig, name, f"https://{endpoint}", credentials.token, credentials.password, None)
        kubectl.run("config", "use-context", name, f"--kubeconfig={controller_kubeconfig}", context=False)

        generated = generated_values(credentials, controller_kubeconfig.read_text(), endpoint)
        objects = [chart.etcd_claim(values), *chart.credential_objects(values, generated), *chart.deployments(values)]
        for obj in objects:
            kubectl.create(obj)

        ca_file = Path(scratch) / "ca.crt"
        ca_file.write_bytes(credentials.ca.cert_pem)
        write_kubeconfig_entries(kubectl, kubeconfig, name, f"https://{endpoint}", credentials.token, credentials.password, ca_file)

    for module in (apiserver, values["controllerManagerName"]):
        selector = f"app=federated-cluster,module={module}"

        def running(selector: str = selector) -> str:
            phase = kubectl.run("get", "pods", f"--namespace={namespace}", f"--selector={selector}", "-o", "jsonpath={.items[*].status.phase}")
            return phase if "Running" in phase else ""

        poll(running, POD_TRIES, POD_INTERVAL, tally)

    tally.seconds = time.perf_counter() - started
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig file that holds the host context")
    parser.add_argument("--context", required=True, help="kubeconfig context of the host cluster")
    parser.add_argument("--output-root", type=Path, required=True, help="directory whose values.yaml overrides the chart defaults")
    args = parser.parse_args(argv)
    json.dump(asdict(deploy(args.kubeconfig, args.context, args.output_root)), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
