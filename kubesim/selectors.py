"""Label and field selectors in the string syntax of the Kubernetes API."""

from __future__ import annotations

import re
from typing import Any, Callable

from .errors import bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_./-]*)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are outside the parentheses of `in (...)` sets."""
    terms, depth, current = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def parse_label_selector(selector: str | None) -> Predicate:
    """Compile a label selector such as `app=web,tier in (a,b),!canary` into a predicate."""
    if not selector:
        return lambda obj: True

    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split_terms(selector):
        eq = _EQ_TERM.match(term)
        if eq:
            key, op, value = eq.groups()
            if op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
            continue

        set_term = _SET_TERM.match(term)
        if not set_term:
            raise bad_request(f'unable to parse requirement: invalid label selector "{selector}"')
        negated, key, op, values = set_term.groups()
        if op:
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, a=allowed: labels.get(k) in a)
            else:
                checks.append(lambda labels, k=key, a=allowed: labels.get(k) not in a)
        elif negated:
            checks.append(lambda labels, k=key: k not in labels)
        else:
            checks.append(lambda labels, k=key: k in labels)

    def matches(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return matches


def _field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def parse_field_selector(selector: str | None) -> Predicate:
    """Compile a field selector such as `metadata.name=x,status.phase!=Running`.

    Any dotted path into the object is accepted, which is wider than the real
    API server, where each resource allows only a fixed set of fields.
    """
    if not selector:
        return lambda obj: True

    checks: list[Predicate] = []
    for term in _split_terms(selector):
        eq = _EQ_TERM.match(term)
        if not eq:
            raise bad_request(f'invalid field selector "{selector}": "{term}" is not field=value')
        path, op, value = eq.groups()
        if op == "!=":
            checks.append(lambda obj, p=path, v=value: _field_value(obj, p) != v)
        else:
            checks.append(lambda obj, p=path, v=value: _field_value(obj, p) == v)

    return lambda obj: all(check(obj) for check in checks)


def match_label_selector_object(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Match a structured LabelSelector (matchLabels/matchExpressions) against labels.

    An empty or missing selector matches nothing, as for Deployments and Services.
    """
    if not selector:
        return False

    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False

    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def match_service_selector(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """Match a Service's map selector, where an empty selector selects no pods."""
    if not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())
