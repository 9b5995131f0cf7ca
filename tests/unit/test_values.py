"""Editing values.yaml keys in place."""

from __future__ import annotations

import stat

import pytest
import yaml

from federation.core.errors import InvalidInput
from federation.core.values import edit_keys, update_keys

IMAGE_KEYS = {
    "apiserverRegistry": "127.0.0.1:5000/federation",
    "apiserverVersion": "v1.5.0-alpha.0.3_0123456789abcd",
    "controllerManagerRegistry": "127.0.0.1:5000/federation",
    "controllerManagerVersion": "v1.5.0-alpha.0.3_0123456789abcd",
}

USER_FILE = """\
# Federation overrides, edited by hand.
namespace: "my-federation"   # where everything goes

apiserverRegistry: 'gcr.io/google-containers'  # image registry
apiserverVersion: v1.4.2
# the DNS zone
controllerManagerDNSZone: "example.org."
controllerManagerRegistry:
controllerManagerVersion: "v1.4.2"
nested:
  keep: [1, 2]
"""


def test_edit_replaces_only_values():
    edited = edit_keys(USER_FILE, IMAGE_KEYS)

    expected = (
        USER_FILE.replace("'gcr.io/google-containers'", '"127.0.0.1:5000/federation"', 1)
        .replace("apiserverVersion: v1.4.2", 'apiserverVersion: "v1.5.0-alpha.0.3_0123456789abcd"')
        .replace("controllerManagerRegistry:\n", 'controllerManagerRegistry: "127.0.0.1:5000/federation"\n')
        .replace('controllerManagerVersion: "v1.4.2"', 'controllerManagerVersion: "v1.5.0-alpha.0.3_0123456789abcd"')
    )
    assert edited == expected


def test_edit_keeps_other_keys_parsed():
    edited = yaml.safe_load(edit_keys(USER_FILE, IMAGE_KEYS))

    assert edited["namespace"] == "my-federation"
    assert edited["controllerManagerDNSZone"] == "example.org."
    assert edited["nested"] == {"keep": [1, 2]}


def test_edit_appends_missing_keys():
    text = "# only a comment\nnamespace: federation"

    edited = edit_keys(text, {"apiserverVersion": "v1"})

    assert edited == '# only a comment\nnamespace: federation\napiserverVersion: "v1"\n'


def test_edit_empty_text_writes_all_keys():
    edited = edit_keys("", IMAGE_KEYS)

    assert yaml.safe_load(edited) == IMAGE_KEYS


def test_edit_keeps_block_scalar_line_break():
    text = "apiserverVersion: |\n  old\nnamespace: federation\n"

    edited = edit_keys(text, {"apiserverVersion": "v2"})

    assert edited == 'apiserverVersion: "v2"\nnamespace: federation\n'


def test_edit_quotes_special_characters():
    edited = edit_keys("", {"apiserverVersion": 'a: "b" # c'})

    assert yaml.safe_load(edited) == {"apiserverVersion": 'a: "b" # c'}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a: [1\n", "is not valid YAML"),
        ("- a\n- b\n", "not a mapping"),
        ("{apiserverVersion: v1}\n", "flow mapping"),
        ("apiserverVersion:\n  tag: v1\n", "is a mapping"),
        ("---\na: 1\n---\nb: 2\n", "is not valid YAML"),
    ],
)
def test_edit_rejects_unusable_file(text, fragment):
    with pytest.raises(InvalidInput) as raised:
        edit_keys(text, IMAGE_KEYS, source="/out/values.yaml")

    assert fragment in raised.value.message
    assert "/out/values.yaml" in raised.value.message


def test_update_keys_writes_file_atomically(tmp_path):
    path = tmp_path / "values.yaml"
    path.write_text(USER_FILE)

    update_keys(path, IMAGE_KEYS)

    assert path.read_text() == edit_keys(USER_FILE, IMAGE_KEYS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [entry.name for entry in tmp_path.iterdir() if entry.name.endswith(".tmp")] == []


def test_update_keys_creates_missing_file(tmp_path):
    path = tmp_path / "values.yaml"

    update_keys(path, IMAGE_KEYS)

    assert yaml.safe_load(path.read_text()) == IMAGE_KEYS


def test_update_keys_leaves_malformed_file(tmp_path):
    path = tmp_path / "values.yaml"
    path.write_text("a: [1\n")

    with pytest.raises(InvalidInput) as raised:
        update_keys(path, IMAGE_KEYS)

    assert str(path) in raised.value.message
    assert path.read_text() == "a: [1\n"
