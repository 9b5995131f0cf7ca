"""Python ports of the Kubernetes Federation v1 setup scripts.

Glossary used across the package:

host cluster
    The cluster whose kubeconfig context runs the federation control plane
    (the API server with its etcd, and the controller manager).
member cluster
    A cluster registered with the federation as a ``federation/v1beta1``
    Cluster object; joining one stores its credentials in the host cluster.
federation context
    The kubeconfig context (``federation-cluster`` by default) that points at
    the federation API server.
step
    One named, idempotent part of a long job (``credentials``, ``wait``, ...)
    that can print its plan instead of running.

Layers, imports pointing down only: the command-line modules
(``federation.deploy.deploy`` and friends) use ``federation.core.runner``,
which uses the domain modules of ``federation.core`` (settings, objects,
credentials, kubeconfig, registration, DNS, images), which use the adapters
``federation.core.kube`` and ``federation.core.programs``.
"""
