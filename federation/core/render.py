"""Rendering of the YAML templates in ``federation/manifests``.

Templates keep the placeholder names of the originals: ``{{.FEDERATION_NAMESPACE}}``
for the direct manifests of federation-up.sh and ``{{ .Values.apiserverName }}``
for the chart of deploy.sh. Each template is parsed as YAML first and the
placeholders are substituted inside scalar values afterwards, so no value,
whatever it contains, can change the structure of a document. Placeholders
must therefore sit inside quoted scalars in the templates.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"
PLACEHOLDER = re.compile(r"\{\{\s*\.(?:Values\.)?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class _Omit:
    """A value that removes the list item or mapping key holding its placeholder."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT = _Omit()


class TemplateError(ValueError):
    """A template names a placeholder that has no value (a bug in the template or its caller)."""


def load_documents(name: str) -> list[dict]:
    """Parse a template file under ``federation/manifests`` without rendering it."""
    text = (MANIFESTS / name).read_text(encoding="utf-8")
    return [document for document in yaml.safe_load_all(text) if document]


def render(name: str, values: Mapping[str, Any]) -> list[dict]:
    """Render every document of template ``name`` with ``values``."""
    return [_substitute(document, values, name) for document in load_documents(name)]


def render_one(name: str, values: Mapping[str, Any]) -> dict:
    (document,) = render(name, values)
    return document


def _substitute(node: Any, values: Mapping[str, Any], template: str) -> Any:
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            rendered = _substitute(value, values, template)
            if rendered is not OMIT:
                result[key] = rendered
        return result
    if isinstance(node, list):
        return [item for item in (_substitute(value, values, template) for value in node) if item is not OMIT]
    if isinstance(node, str):
        return _scalar(node, values, template)
    return copy.deepcopy(node)


def _scalar(text: str, values: Mapping[str, Any], template: str) -> Any:
    whole = PLACEHOLDER.fullmatch(text.strip())
    if whole:
        # A scalar that is only a placeholder takes the value's own type (a port stays an int).
        return _lookup(whole.group(1), values, template)

    def replace(match: re.Match) -> str:
        value = _lookup(match.group(1), values, template)
        if value is OMIT:
            raise TemplateError(f"{template}: {match.group(1)} cannot be omitted inside {text!r}")
        return str(value)

    return PLACEHOLDER.sub(replace, text)


def _lookup(name: str, values: Mapping[str, Any], template: str) -> Any:
    try:
        return values[name]
    except KeyError:
        raise TemplateError(f"{template}: no value for placeholder {name}") from None
