"""SIGINT and SIGTERM at each step of deploy_federation, federation-up.sh and join_clusters.

The run exits 130 or 143 with its message, the kubeconfig still parses and
holds either no federation entry or a complete one, and the next run
converges to the state of a run that was never interrupted.
"""

from __future__ import annotations

import signal

import pytest
import yaml

from tests.reliability.convergence import differences, final_state, prepare, scenario_env, step
from tests.reliability.support import kubeconfig_entries
from tests.reliability.test_concurrency import Background

# The line each step prints when it starts, as Status.step frames it.
STEP_LINES = {
    "deploy": ["• [preflight]", "• [service]", "• [credentials]", "• [storage]", "• [control-plane]", "• [kubeconfig]", "• [wait]"],
    "up": ["• [preflight]", "• [service]", "• [credentials]", "• [storage]", "• [control-plane]", "• [kubeconfig]", "• [wait]", "• [register]"],
    "join": ["• checking cluster", "• storing credentials", "• registering cluster", "• waiting up to", "• configuring DNS"],
}
SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXPECTED = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}
# Each step gets one signal, alternating, so both reach every script.
CASES = [(scenario, line, SIGNALS[index % 2]) for scenario, lines in STEP_LINES.items() for index, line in enumerate(lines)]


def federation_entry_complete_or_absent(kubeconfig) -> None:
    document = yaml.safe_load(kubeconfig.read_text())
    assert isinstance(document, dict)
    entries = kubeconfig_entries(kubeconfig, "federation-cluster")
    assert set(entries.values()) in ({True}, {False}), entries


@pytest.mark.parametrize(("scenario", "line", "number"), CASES, ids=[f"{scenario}-{line.strip('• [').rstrip(']').split()[0]}-{number.name}" for scenario, line, number in CASES])
def test_signal_at_step_then_rerun_converges(clusters, tmp_path, clean, scenario, line, number):
    expected = clean(scenario)
    env = scenario_env(clusters, scenario, tmp_path)
    prepare(clusters, scenario, env)
    slowed = [clusters.cluster(context) for context in (clusters.host, *clusters.members)]
    for cluster in slowed:
        cluster.faults.latency(0.1)

    interrupted = Background(*step(scenario), "-v", env=env)
    interrupted.wait_for_line(line)
    interrupted.signal(number)
    code, output = interrupted.finish()
    for cluster in slowed:
        cluster.faults.clear()

    expected_code, word = EXPECTED[number]
    # NOTE: one run in about 40 exited -2 (killed by SIGINT, so a KeyboardInterrupt escaped
    # run_main) at the deploy preflight step; it did not reproduce in isolation.
    assert code == expected_code, output[-3000:]
    assert f"{word}: nothing half-written was left" in output
    assert "Traceback" not in output
    federation_entry_complete_or_absent(clusters.kubeconfig)

    again = Background(*step(scenario), env=env)
    again_code, again_output = again.finish()

    assert again_code == 0, again_output
    assert differences(final_state(clusters, scenario, env), expected) == []
