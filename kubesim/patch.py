"""PATCH bodies: JSON merge patch, JSON patch and strategic merge patch."""

from __future__ import annotations

import copy
from typing import Any

from . import errors

# Merge keys of lists that strategic merge patch merges item by item, taken from
# the patchMergeKey tags in k8s.io/api. Lists not named here are replaced whole.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "taints": "key",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}

# Lists of scalars with patchStrategy "merge": entries are added, not replaced.
MERGED_SCALAR_LISTS = {"finalizers"}


def merge_key_for(field: str, items: list[Any]) -> str | None:
    """Return the merge key of a list field, resolving `ports` by the item shape."""
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is None:
            return None
        # Container ports merge on containerPort; Service ports on port.
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def json_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _pointer_parts(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise errors.bad_request(f'invalid JSON pointer "{pointer}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _resolve_parent(doc: Any, parts: list[str], pointer: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise errors.StatusError(422, "Invalid", f'the server rejected our request: path "{pointer}" does not exist')
    return node, parts[-1]


def json_patch(doc: Any, operations: list[dict[str, Any]]) -> Any:
    """Apply an RFC 6902 JSON patch."""
    doc = copy.deepcopy(doc)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        try:
            if kind in ("add", "replace", "remove", "test"):
                doc = _apply_json_op(doc, kind, _pointer_parts(path), op, path)
            elif kind in ("move", "copy"):
                source = _pointer_parts(op["from"])
                value = _get_pointer(doc, source)
                if kind == "move":
                    doc = _apply_json_op(doc, "remove", source, op, op["from"])
                doc = _apply_json_op(doc, "add", _pointer_parts(path), {"value": copy.deepcopy(value)}, path)
            else:
                raise errors.bad_request(f'unknown JSON patch operation "{kind}"')
        except (IndexError, KeyError, ValueError, TypeError) as exc:
            raise errors.StatusError(422, "Invalid",
                                     f'the server rejected our request due to an error in our request: '
                                     f'{kind} {path}: {exc}') from exc
    return doc


def _get_pointer(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _apply_json_op(doc: Any, kind: str, parts: list[str], op: dict[str, Any], pointer: str) -> Any:
    if not parts:
        if kind == "test":
            if doc != op.get("value"):
                raise errors.StatusError(422, "Invalid", "testing value failed")
            return doc
        return copy.deepcopy(op.get("value")) if kind != "remove" else None

    parent, last = _resolve_parent(doc, parts, pointer)
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if kind == "add":
            parent.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            parent[index] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del parent[index]
        elif parent[index] != op.get("value"):
            raise errors.StatusError(422, "Invalid", f"testing value {pointer} failed")
        return doc

    if kind == "add":
        parent[last] = copy.deepcopy(op["value"])
    elif kind == "replace":
        if last not in parent:
            raise KeyError(f"missing path {pointer}")
        parent[last] = copy.deepcopy(op["value"])
    elif kind == "remove":
        del parent[last]
    elif parent.get(last) != op.get("value"):
        raise errors.StatusError(422, "Invalid", f"testing value {pointer} failed")
    return doc


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch, merging known lists by their merge keys.

    Handles the `$patch` (replace, delete, merge), `$retainKeys`,
    `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` directives
    that kubectl sends.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)

    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive == "delete":
        return None

    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain_keys = patch.pop("$retainKeys", None)
    set_orders: dict[str, list[Any]] = {}

    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            set_orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue

        current = result.get(key)
        if isinstance(value, list):
            result[key] = _merge_list(key, current, value)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(current, value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)

    for field, order in set_orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(field, result[field], order)

    if retain_keys is not None:
        result = {k: v for k, v in result.items() if k in retain_keys}
    return result


def _merge_list(field: str, current: Any, patch_items: list[Any]) -> list[Any]:
    current = current if isinstance(current, list) else []

    if field in MERGED_SCALAR_LISTS:
        merged = list(current)
        for item in patch_items:
            if item not in merged:
                merged.append(item)
        return merged

    merge_key = merge_key_for(field, patch_items or current)
    if not merge_key or not all(isinstance(i, dict) for i in patch_items):
        replacement = [i for i in patch_items if not (isinstance(i, dict) and i.get("$patch") == "replace")]
        return copy.deepcopy(replacement)

    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch_items):
        return [copy.deepcopy(i) for i in patch_items if i.get("$patch") != "replace"]

    merged = copy.deepcopy(current)
    for item in patch_items:
        key_value = item.get(merge_key)
        index = next((n for n, existing in enumerate(merged)
                      if isinstance(existing, dict) and existing.get(merge_key) == key_value), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
            continue
        if index is None:
            merged.append(strategic_merge_patch({}, item))
        else:
            merged[index] = strategic_merge_patch(merged[index], item)
    return merged


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    """Order items as `$setElementOrder` lists them; items it does not list keep their place at the end."""
    merge_key = merge_key_for(field, items)
    if merge_key is None:
        return items

    def identity(item: Any) -> Any:
        return item.get(merge_key) if isinstance(item, dict) else item

    wanted = [identity(o) for o in order]
    ordered = [i for w in wanted for i in items if identity(i) == w]
    rest = [i for i in items if identity(i) not in wanted]
    return ordered + rest
