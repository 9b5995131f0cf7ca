"""Settings layering: environment over ./.env over ${FEDERATION_OUTPUT_ROOT}/.env."""

from __future__ import annotations

import pytest

from federation.core.environment import Environment, read_dotenv
from federation.core.errors import InvalidInput


def test_environment_wins_over_dotenv(tmp_path):
    (tmp_path / ".env").write_text("FEDERATION_NAME=from-file\nDNS_ZONE_NAME=zone.example\n")

    env = Environment.load({"FEDERATION_NAME": "from-env"}, cwd=tmp_path)

    assert env.value("FEDERATION_NAME") == "from-env"
    assert env.source("FEDERATION_NAME") == "environment"
    assert env.value("DNS_ZONE_NAME") == "zone.example"
    assert env.source("DNS_ZONE_NAME") == str(tmp_path / ".env")


def test_local_dotenv_wins_over_output_root_dotenv(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    (root / ".env").write_text("KUBE_REGISTRY=nested.example/r\nFEDERATION_NAME=nested\n")
    (tmp_path / ".env").write_text(f"FEDERATION_OUTPUT_ROOT={root}\nFEDERATION_NAME=local\n")

    env = Environment.load({}, cwd=tmp_path)

    assert env.value("FEDERATION_NAME") == "local"
    assert env.value("KUBE_REGISTRY") == "nested.example/r"


def test_output_root_dotenv_from_environment(tmp_path):
    (tmp_path / ".env").write_text("KUBERNETES_PROVIDER=kind\n")

    env = Environment.load({"FEDERATION_OUTPUT_ROOT": str(tmp_path)}, cwd=tmp_path / "missing")

    assert env.value("KUBERNETES_PROVIDER") == "kind"


def test_empty_value_counts_as_unset():
    env = Environment({"FEDERATION_NAME": ""})

    assert env.value("FEDERATION_NAME", "federation") == "federation"


@pytest.mark.parametrize("word,expected", [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("", False)])
def test_flag_words(word, expected):
    assert Environment({"USE_KUBEFED": word}).flag("USE_KUBEFED") is expected


def test_flag_rejects_other_words():
    with pytest.raises(InvalidInput) as error:
        Environment({"USE_KUBEFED": "maybe"}).flag("USE_KUBEFED")

    assert "USE_KUBEFED='maybe'" in error.value.message


def test_malformed_dotenv_names_file_and_line(tmp_path):
    path = tmp_path / ".env"
    path.write_text("GOOD=1\nthis is not an assignment\n")

    with pytest.raises(InvalidInput) as error:
        read_dotenv(path)

    assert str(path) in error.value.message
    assert "line 2" in error.value.message


def test_overrides_win_and_are_attributed():
    env = Environment({"FEDERATION_WAIT_TIMEOUT": "300"}).with_overrides(FEDERATION_WAIT_TIMEOUT="5")

    assert env.value("FEDERATION_WAIT_TIMEOUT") == "5"
    assert env.source("FEDERATION_WAIT_TIMEOUT") == "command line"
