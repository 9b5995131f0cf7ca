"""kubesim: simulated Kubernetes clusters for tests.

kubesim is a test double. Each simulated cluster is a real HTTPS server on
127.0.0.1 that speaks enough of the Kubernetes API for kubectl 1.37 and the
`kubernetes` Python client, with simulated controllers in place of kubelets,
the controller manager and the DNS and storage add-ons of kind. No container
ever runs.

Command line::

    python -m kubesim up --cluster host --cluster member1 --kubeconfig /tmp/kubeconfig

Python API::

    from kubesim import ClusterSpec, SimulatedClusters

    specs = [ClusterSpec("host", context="kind-host", load_balancer=True),
             ClusterSpec("member1", require_token=True),
             ClusterSpec("member2", dns="kube-dns")]
    with SimulatedClusters(specs, kubeconfig_path) as sim:
        c = sim["host"]
        c.url, c.context, c.ca_pem
        c.faults.fail_next(3, status=503); c.faults.latency(0.2)
        c.faults.reset_next(2); c.faults.clear()
        c.requests                      # Counter keyed by (verb, resource)
        c.objects("apps/v1", "Deployment", namespace="kube-system")
        c.get_object("v1", "ConfigMap", "coredns", namespace="kube-system")
        c.put_object({...})             # seed an object directly
        c.set_default_storage_class(False)
        c.federation_servers            # emulated federation API servers
        sim.stop()

ClusterSpec fields: name, context (default: name), load_balancer=False,
dns="coredns" | "kube-dns" | "kube-dns-legacy", require_token=False,
ready_delay=0.0 (seconds until pods are Ready), controllers (names of the
simulated controllers to run, default all).

The pytest plugin `kubesim.pytest_plugin` provides the `kubesim_clusters`
fixture. See docs/kubesim.md for what is and is not simulated.
"""

from .cluster import ALL_CONTROLLERS, ClusterSpec, SimulatedCluster
from .simulation import SimulatedClusters

__all__ = ["ALL_CONTROLLERS", "ClusterSpec", "SimulatedCluster", "SimulatedClusters"]
