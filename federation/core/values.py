"""Edit top-level keys of a Helm values file in place.

``develop.sh push`` sets the image keys of ``${FEDERATION_OUTPUT_ROOT}/values.yaml``
and deploy sets the token keys. Only the text of the edited values changes:
comments, key order, quoting and every other key stay byte for byte, and a
missing key is appended at the end. The value spans come from PyYAML's
composer, so the edit follows YAML's own grammar instead of a line regex.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from federation.core.errors import InvalidInput
from federation.core.files import atomic_write, exclusive_lock

# values.yaml gains apiserverToken at deploy time, so it is written like a secret.
VALUES_MODE = 0o600


def update_keys(path: Path, updates: dict[str, str]) -> None:
    """Set each top-level key in ``updates`` to its string value, keeping the rest of ``path``.

    Creates the file and its directory when missing, and locks
    ``<path>.lock`` while editing. Raises ``InvalidInput`` naming
    the file when it is not a YAML mapping or when a key to update holds a
    list or mapping; the file is then left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(path, f"values file {path}", wait_seconds=30):
        text = read_values_text(path)
        edited = edit_keys(text, updates, source=str(path))
        if edited != text or not path.exists():
            atomic_write(path, edited, mode=VALUES_MODE)


def read_values_text(path: Path) -> str:
    """Return the file's text, or an empty string when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read values file {path}: {error}", hint=f"fix the permissions or the encoding of {path}, or remove it") from None


def edit_keys(text: str, updates: dict[str, str], source: str = "values.yaml") -> str:
    """Return ``text`` with the top-level ``updates`` applied; see ``update_keys``."""
    root = _compose_mapping(text, source)

    # Replace from the end of the text backwards, so earlier offsets stay valid.
    spans: list[tuple[int, int, str]] = []
    present: set[str] = set()
    if root is not None:
        for key_node, value_node in root.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in updates:
                continue
            if not isinstance(value_node, yaml.ScalarNode):
                raise InvalidInput(
                    f"values file {source}: key {key!r} is a {value_node.id}, not a scalar",
                    hint=f"set {key} to a plain string in {source}, or remove that key so it is added again",
                )
            present.add(key)
            spans.append(_value_span(text, value_node, _quoted(updates[key])))

    edited = text
    for start, end, replacement in sorted(spans, reverse=True):
        edited = edited[:start] + replacement + edited[end:]

    missing = [key for key in updates if key not in present]
    if missing:
        if edited and not edited.endswith("\n"):
            edited += "\n"
        edited += "".join(f"{key}: {_quoted(updates[key])}\n" for key in missing)

    _check_result(text, edited, updates, source)
    return edited


def _compose_mapping(text: str, source: str) -> yaml.MappingNode | None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise InvalidInput(f"values file {source} is not valid YAML: {error}", hint=f"fix the YAML syntax in {source}") from None

    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode):
        raise InvalidInput(f"values file {source} is a YAML {root.id}, not a mapping of keys to values", hint=f"write {source} as 'key: value' lines")
    if root.flow_style:
        raise InvalidInput(
            f"values file {source} is a flow mapping ({{...}}), which cannot be edited key by key",
            hint=f"rewrite {source} in block style, one 'key: value' per line",
        )
    return root


def _value_span(text: str, node: yaml.ScalarNode, replacement: str) -> tuple[int, int, str]:
    start, end = node.start_mark.index, node.end_mark.index

    # An empty value ("key:") has a zero-width span right after the colon.
    if start == end and start > 0 and text[start - 1] == ":":
        return start, end, f" {replacement}"

    # Block scalars (| and >) end with their final line break, which the next key needs for the next key.
    if text[start:end].endswith("\n"):
        end -= 1
    return start, end, replacement


def _quoted(value: str) -> str:
    # JSON strings are valid YAML double-quoted scalars, escapes included.
    return json.dumps(str(value), ensure_ascii=False)


def _check_result(original: str, edited: str, updates: dict[str, str], source: str) -> None:
    """Re-read the edited text and compare, so an edit YAML could misread is never written."""
    before = yaml.safe_load(original) or {}
    after = yaml.safe_load(edited) or {}
    expected = {**before, **{key: str(value) for key, value in updates.items()}}
    if after != expected:
        changed = sorted(str(key) for key in set(after) | set(expected) if after.get(key) != expected.get(key))
        raise InvalidInput(
            f"values file {source}: editing {', '.join(sorted(updates))} in place would also change {', '.join(changed)}",
            hint=f"simplify those keys in {source} (no anchors or aliases on them), or remove them so they are added again",
        )

