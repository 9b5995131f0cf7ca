"""Run one tool action in a fresh interpreter and write the time it took from the inside.

    python -m bench.child RESULT.json deploy ACTION [ARGS...]
    python -m bench.child RESULT.json join HOST_CONTEXT FEDERATION_CONTEXT NAMESPACE CONCURRENCY READY_TIMEOUT MEMBER_CONTEXT...

The clock starts before the first import of ``federation``, so the tool time
includes the tool's own imports and leaves out the Python start-up.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def deploy(argv: list[str]) -> dict:
    from federation.deploy import deploy as deploy_module

    imported = time.perf_counter()
    code = deploy_module.main(argv)
    finished = time.perf_counter()
    return {"exit_code": code, "import_seconds": imported - STARTED, "tool_seconds": finished - STARTED}


def join(argv: list[str]) -> dict:
    from federation.core.kube import Cluster
    from federation.core.kubeconfig import Kubeconfig, kubeconfig_paths
    from federation.core.registration import federation_settings, join_all, member_from_context, unjoin
    from federation.core.status import Status

    host_context, federation_context, namespace, concurrency, ready_timeout, *member_contexts = argv
    config = Kubeconfig.load(kubeconfig_paths(os.environ))
    status = Status(quiet=True)
    federation = federation_settings(Cluster(config, host_context), Cluster(config, federation_context), namespace)
    members = [member_from_context(config, context) for context in member_contexts]

    started = time.perf_counter()
    # A READY_TIMEOUT of 0 skips the wait for each Cluster to be Ready.
    join_all(federation, members, status, concurrency=int(concurrency), timeout=float(ready_timeout))
    joined = time.perf_counter()

    # Unjoin so that the next run starts from the same state; timed for information only.
    for member in members:
        unjoin(federation, member.name, member, status)
    finished = time.perf_counter()
    return {"exit_code": 0, "setup_seconds": started - STARTED, "join_seconds": joined - started, "unjoin_seconds": finished - joined}


def main() -> int:
    result_path, command, *argv = sys.argv[1:]
    result = {"deploy": deploy, "join": join}[command](argv)
    with open(result_path, "w", encoding="utf-8") as stream:
        json.dump(result, stream)
    return int(result["exit_code"])


if __name__ == "__main__":
    sys.exit(main())
