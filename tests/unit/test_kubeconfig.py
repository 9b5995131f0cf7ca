"""Kubeconfig merging, minifying and atomic edits."""

from __future__ import annotations

import base64
import os
import stat

import pytest
import yaml

from federation.core.errors import InvalidInput, PreflightFailed
from federation.core.kubeconfig import Kubeconfig, kubeconfig_paths, remove_entries, write_entries


def document(name, server, current=None, token="t"):
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": current or "",
    }


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def test_paths_from_kubeconfig_list(tmp_path):
    paths = kubeconfig_paths({"KUBECONFIG": f"{tmp_path}/a:{tmp_path}/b"})

    assert paths == [tmp_path / "a", tmp_path / "b"]


def test_first_file_wins_when_merging(tmp_path):
    first = write(tmp_path / "a", document("shared", "https://first", current="shared"))
    second = write(tmp_path / "b", {**document("shared", "https://second"), "current-context": "other"})

    config = Kubeconfig.load([first, second])

    assert config.server("shared") == "https://first"
    assert config.current_context == "shared"


def test_missing_files_in_list_are_skipped(tmp_path):
    present = write(tmp_path / "a", document("one", "https://one"))

    config = Kubeconfig.load([tmp_path / "missing", present])

    assert config.contexts() == ["one"]


def test_no_file_at_all_is_a_preflight_error(tmp_path):
    with pytest.raises(PreflightFailed) as error:
        Kubeconfig.load([tmp_path / "missing"])

    assert "KUBECONFIG" in error.value.hint


def test_malformed_file_names_path_and_line(tmp_path):
    path = tmp_path / "config"
    path.write_text("clusters:\n  - name: [unclosed\n")

    with pytest.raises(InvalidInput) as error:
        Kubeconfig.load([path])

    assert str(path) in error.value.message
    assert "line" in error.value.message


def test_unknown_context_lists_known_ones(tmp_path):
    config = Kubeconfig.load([write(tmp_path / "a", document("one", "https://one"))])

    with pytest.raises(InvalidInput) as error:
        config.resolve_context("two", "FEDERATION_HOST_CLUSTER_CONTEXT")

    assert "FEDERATION_HOST_CLUSTER_CONTEXT='two'" in error.value.message
    assert "one" in error.value.hint


def test_minified_inlines_files_relative_to_their_kubeconfig(tmp_path):
    (tmp_path / "ca.crt").write_bytes(b"CA")
    data = document("one", "https://one")
    data["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    config = Kubeconfig.load([write(tmp_path / "config", data)])

    minified = config.minified("one")

    cluster = minified["clusters"][0]["cluster"]
    assert "certificate-authority" not in cluster
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"CA"
    assert minified["current-context"] == "one"
    assert len(minified["contexts"]) == 1


def test_write_entries_keeps_others_and_current_context(tmp_path):
    path = write(tmp_path / "config", document("host", "https://host", current="host"))

    write_entries(path, {"name": "fed", "cluster": {"server": "https://fed"}}, [{"name": "fed", "user": {"token": "x"}}], {"name": "fed", "context": {"cluster": "fed", "user": "fed"}})

    config = Kubeconfig.load([path])
    assert set(config.contexts()) == {"host", "fed"}
    assert config.current_context == "host"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert (tmp_path / "config.bak").exists()
    assert stat.S_IMODE(os.stat(tmp_path / "config.bak").st_mode) == 0o600


def test_write_entries_replaces_same_name(tmp_path):
    path = write(tmp_path / "config", document("fed", "https://old"))

    write_entries(path, {"name": "fed", "cluster": {"server": "https://new"}}, [], {"name": "fed", "context": {"cluster": "fed", "user": "fed"}})

    assert Kubeconfig.load([path]).server("fed") == "https://new"
    assert yaml.safe_load(path.read_text())["clusters"].__len__() == 1


def test_remove_entries_from_every_file(tmp_path):
    first = write(tmp_path / "a", document("fed", "https://fed"))
    second = write(tmp_path / "b", document("host", "https://host", current="host"))
    config = Kubeconfig.load([first, second])

    changed = remove_entries(config, "fed", ["fed"], "fed")

    assert changed == [first]
    assert Kubeconfig.load([first, second]).contexts() == ["host"]
