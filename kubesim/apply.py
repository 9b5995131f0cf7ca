"""Server-side apply and managedFields bookkeeping.

Field ownership is tracked as sets of paths in the fieldsV1 notation
(`f:field`, `k:{"name":"x"}` for keyed list items, `v:"x"` for set items,
`.` for a keyed item itself). This is a simplified model of structured-merge-diff:
lists merge by the same merge keys as strategic merge patch and all other lists
are atomic.
"""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

from . import errors
from .patch import MERGED_SCALAR_LISTS, merge_key_for

Path = tuple[str, ...]

_MISSING = object()
_SERVER_OWNED_METADATA = {
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generateName",
}


def field_set(obj: dict[str, Any], *, include_status: bool = False) -> set[Path]:
    """Return the paths of all leaf fields set in obj."""
    paths: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "status" and not include_status:
            continue
        if key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if meta_key in _SERVER_OWNED_METADATA:
                    continue
                _collect(meta_key, meta_value, ("f:metadata",), paths)
            continue
        _collect(key, value, (), paths)
    return paths


def _collect(key: str, value: Any, prefix: Path, paths: set[Path]) -> None:
    here = prefix + (f"f:{key}",)
    if isinstance(value, dict) and value:
        for child_key, child_value in value.items():
            _collect(child_key, child_value, here, paths)
        return

    if isinstance(value, list) and value:
        merge_key = merge_key_for(key, value)
        if merge_key and all(isinstance(i, dict) and merge_key in i for i in value):
            for item in value:
                item_path = here + (_item_key(merge_key, item),)
                paths.add(item_path + (".",))
                for child_key, child_value in item.items():
                    _collect(child_key, child_value, item_path, paths)
            return
        if key in MERGED_SCALAR_LISTS:
            for item in value:
                paths.add(here + ("v:" + json.dumps(item),))
            return

    paths.add(here)


def _item_key(merge_key: str, item: dict[str, Any]) -> str:
    return "k:" + json.dumps({merge_key: item[merge_key]}, separators=(",", ":"))


def lookup(obj: Any, path: Path) -> Any:
    """Return the value at path, or _MISSING."""
    node = obj
    for element in path:
        if element == ".":
            return node
        kind, _, token = element.partition(":")
        if kind == "f":
            if not isinstance(node, dict) or token not in node:
                return _MISSING
            node = node[token]
        elif kind == "k":
            wanted = json.loads(token)
            if not isinstance(node, list):
                return _MISSING
            node = next((i for i in node if isinstance(i, dict)
                         and all(i.get(k) == v for k, v in wanted.items())), _MISSING)
            if node is _MISSING:
                return _MISSING
        elif kind == "v":
            value = json.loads(token)
            return value if isinstance(node, list) and value in node else _MISSING
    return node


def remove_path(obj: Any, path: Path) -> None:
    """Remove the field at path from obj if present, pruning nothing else."""
    if not path:
        return
    parent = lookup(obj, path[:-1]) if len(path) > 1 else obj
    last = path[-1]
    if last == ".":
        grandparent = lookup(obj, path[:-2])
        item = parent
        if isinstance(grandparent, list) and item in grandparent:
            grandparent.remove(item)
        return
    kind, _, token = last.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(token, None)
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(token)
        if value in parent:
            parent.remove(value)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for element, child in (tree or {}).items():
        here = prefix + (element,)
        if child:
            paths |= from_fields_v1(child, here)
        else:
            paths.add(here)
    return paths


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    return copy.deepcopy((obj.get("metadata") or {}).get("managedFields") or [])


def _set_entries(obj: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    kept = [e for e in entries if e.get("fieldsV1")]
    if kept:
        obj.setdefault("metadata", {})["managedFields"] = kept
    else:
        obj.setdefault("metadata", {}).pop("managedFields", None)


def _entry(manager: str, operation: str, api_version: str, paths: set[Path],
           subresource: str | None) -> dict[str, Any]:
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": _now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def track_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str,
                 subresource: str | None = None) -> None:
    """Give `manager` an Update entry for the fields it changed, taking them from other managers."""
    include_status = subresource == "status"
    new_fields = field_set(new, include_status=include_status)
    changed = {p for p in new_fields if old is None or lookup(old, p) != lookup(new, p)}

    entries = _entries(old) if old is not None else _entries(new)
    updated: list[dict[str, Any]] = []
    mine: dict[str, Any] | None = None
    all_new_fields = field_set(new, include_status=True)
    for entry in entries:
        owned = from_fields_v1(entry.get("fieldsV1") or {})
        owned = {p for p in owned if p in all_new_fields or lookup(new, p) is not _MISSING}
        if entry.get("manager") == manager and entry.get("operation") == "Update" \
                and entry.get("subresource") == subresource:
            mine = entry
            changed |= owned
            continue
        owned -= changed
        entry["fieldsV1"] = to_fields_v1(owned)
        updated.append(entry)

    if changed:
        entry = _entry(manager, "Update", new.get("apiVersion", ""), changed, subresource)
        if mine is not None:
            entry["time"] = _now() if changed != from_fields_v1(mine.get("fieldsV1") or {}) else mine.get("time")
        updated.append(entry)
    _set_entries(new, updated)


def server_side_apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str,
                      force: bool, group: str, plural: str, subresource: str | None = None) -> dict[str, Any]:
    """Merge an applied configuration into the live object and record ownership.

    Raises a 409 Conflict listing each field another manager owns with a
    different value, unless force is set, which takes those fields over.
    """
    include_status = subresource == "status"
    config_fields = field_set(config, include_status=include_status)
    entries = _entries(live)

    conflicts: list[tuple[str, Path]] = []
    for entry in entries:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            continue
        owned = from_fields_v1(entry.get("fieldsV1") or {})
        for path in sorted(owned & config_fields):
            if path[-1] == ".":
                continue
            if live is not None and lookup(live, path) != lookup(config, path):
                conflicts.append((entry.get("manager", ""), path))

    if conflicts and not force:
        name = (config.get("metadata") or {}).get("name", "")
        lines = [f'conflict with "{m}": {_dotted(p)}' for m, p in conflicts]
        message = f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: " + \
            "\n".join(lines)
        raise errors.StatusError(409, "Conflict", message, {
            "name": name, "group": group, "kind": plural,
            "causes": [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}"',
                        "field": _dotted(p)} for m, p in conflicts]})

    merged = _apply_merge(live or {}, config)
    if live is not None:
        merged.setdefault("metadata", {})
        for key in _SERVER_OWNED_METADATA:
            if key in (live.get("metadata") or {}):
                merged["metadata"][key] = copy.deepcopy(live["metadata"][key])

    previous: set[Path] = set()
    others: set[Path] = set()
    kept_entries: list[dict[str, Any]] = []
    for entry in entries:
        owned = from_fields_v1(entry.get("fieldsV1") or {})
        if entry.get("manager") == manager and entry.get("operation") == "Apply" \
                and entry.get("subresource") == subresource:
            previous = owned
            continue
        if force:
            owned -= config_fields
        # Fields that now take the applied value with no conflict are shared, as in the real server.
        others |= owned
        entry["fieldsV1"] = to_fields_v1(owned)
        kept_entries.append(entry)

    for path in sorted(previous - config_fields - others, key=len, reverse=True):
        remove_path(merged, path)

    kept_entries.append(_entry(manager, "Apply", config.get("apiVersion", ""), config_fields, subresource))
    _set_entries(merged, kept_entries)
    return merged


def _apply_merge(live: Any, config: Any, field: str | None = None) -> Any:
    if isinstance(config, dict):
        result = copy.deepcopy(live) if isinstance(live, dict) else {}
        for key, value in config.items():
            if key == "managedFields":
                continue
            result[key] = _apply_merge(result.get(key), value, key)
        return result

    if isinstance(config, list) and field is not None:
        merge_key = merge_key_for(field, config)
        if merge_key and isinstance(live, list) and all(isinstance(i, dict) for i in config):
            merged = copy.deepcopy(live)
            for item in config:
                index = next((n for n, e in enumerate(merged)
                              if isinstance(e, dict) and e.get(merge_key) == item.get(merge_key)), None)
                if index is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[index] = _apply_merge(merged[index], item)
            return merged
        if field in MERGED_SCALAR_LISTS and isinstance(live, list):
            return list(live) + [i for i in config if i not in live]

    return copy.deepcopy(config)


def _dotted(path: Path) -> str:
    parts = []
    for element in path:
        kind, _, token = element.partition(":")
        if kind == "f":
            parts.append("." + token)
        elif kind == "k":
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(token).items()) + "]")
        elif kind == "v":
            parts.append(f"[{token}]")
    return "".join(parts)
