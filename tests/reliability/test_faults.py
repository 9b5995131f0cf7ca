"""API faults during deploy_federation, federation-up.sh and join_clusters.

Short bursts of 500 and 503, added latency and reset connections are
retried with bounded backoff and the run succeeds. A burst longer than the
backoff fails the run with a clear message and no traceback, and the next
run converges. Either way the final state (objects and their specs,
kubeconfig entries, registered Clusters) equals that of a run without faults.
"""

from __future__ import annotations

import pytest

from tests.e2e.scripts import run
from tests.reliability.convergence import SCENARIOS, differences, final_state, prepare, scenario_env, step
from tests.reliability.support import arm_after_requests

# Requests into the step before the fault is armed, so it lands in the middle
# of the run. join_clusters makes only a handful of requests to each member.
MIDDLE = {"deploy": 8, "up": 8, "join": 2}
# More failures in a row than kube.Backoff's 6 attempts absorb.
TOO_MANY = 12


def target(clusters, scenario: str, member: bool = False):
    """The cluster to fault: the first member for a transient fault during join, the host otherwise.

    A long outage goes to the host even for join, because the controller
    manager's health probes consume most of a member's faults and join
    then, rightly, rides them out.
    """
    return clusters.cluster(clusters.members[0] if member and scenario == "join" else clusters.host)


TRANSIENT = {
    "500-burst": lambda faults: faults.fail_next(3, status=500),
    "503-burst": lambda faults: faults.fail_next(4, status=503),
    "reset": lambda faults: faults.reset_next(2),
    "latency": lambda faults: faults.latency(0.1),
}
TRANSIENT_CASES = [(scenario, fault) for scenario in SCENARIOS for fault in TRANSIENT if fault != "latency" or scenario == "deploy"]


@pytest.mark.parametrize(("scenario", "fault"), TRANSIENT_CASES, ids=[f"{scenario}-{fault}" for scenario, fault in TRANSIENT_CASES])
def test_transient_fault_retried(clusters, tmp_path, clean, scenario, fault):
    expected = clean(scenario)
    env = scenario_env(clusters, scenario, tmp_path)
    prepare(clusters, scenario, env)
    cluster = target(clusters, scenario, member=True)
    arm_after_requests(cluster, MIDDLE[scenario], lambda: TRANSIENT[fault](cluster.faults))

    result = run(*step(scenario), env=env)
    cluster.faults.clear()

    assert result.returncode == 0, result.explain()
    assert "Traceback" not in result.output
    assert differences(final_state(clusters, scenario, env), expected) == []


@pytest.mark.parametrize(("scenario", "status"), [("deploy", 500), ("up", 503), ("join", 503)])
def test_long_outage_fails_then_rerun_converges(clusters, tmp_path, clean, scenario, status):
    expected = clean(scenario)
    env = scenario_env(clusters, scenario, tmp_path)
    prepare(clusters, scenario, env)
    cluster = target(clusters, scenario)
    armed = arm_after_requests(cluster, MIDDLE[scenario], lambda: cluster.faults.fail_next(TOO_MANY, status=status))

    failed = run(*step(scenario), env=env)
    armed.join(timeout=5)
    cluster.faults.clear()

    assert failed.returncode == 1, failed.explain()
    assert f"{status} " in failed.stderr, failed.explain()
    assert "error: " in failed.stderr
    assert "Traceback" not in failed.output

    again = run(*step(scenario), env=env)

    assert again.returncode == 0, again.explain()
    assert differences(final_state(clusters, scenario, env), expected) == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_reset_burst_fails_then_rerun_converges(clusters, tmp_path, clean, scenario):
    expected = clean(scenario)
    env = scenario_env(clusters, scenario, tmp_path)
    prepare(clusters, scenario, env)
    cluster = target(clusters, scenario)
    armed = arm_after_requests(cluster, MIDDLE[scenario], lambda: cluster.faults.reset_next(TOO_MANY))

    failed = run(*step(scenario), env=env)
    armed.join(timeout=5)
    cluster.faults.clear()

    assert failed.returncode in (1, 4), failed.explain()
    assert "cannot reach the API server" in failed.stderr or "connection" in failed.stderr, failed.explain()
    assert "Traceback" not in failed.output

    again = run(*step(scenario), env=env)

    assert again.returncode == 0, again.explain()
    assert differences(final_state(clusters, scenario, env), expected) == []
