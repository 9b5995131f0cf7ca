"""Template rendering: placeholders substituted only inside scalars."""

from __future__ import annotations

import pytest

from federation.core import render


@pytest.fixture
def template(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "MANIFESTS", tmp_path)

    def write(text):
        (tmp_path / "t.yaml").write_text(text)
        return "t.yaml"

    return write


def test_values_cannot_change_structure(template):
    name = template('metadata:\n  name: "{{.NAME}}"\n')

    (document,) = render.render(name, {"NAME": "x\nkind: Secret\n: [evil"})

    assert document == {"metadata": {"name": "x\nkind: Secret\n: [evil"}}


def test_whole_placeholder_keeps_type(template):
    name = template('port: "{{ .Values.port }}"\nlabel: "p-{{ .Values.port }}"\n')

    (document,) = render.render(name, {"port": 443})

    assert document == {"port": 443, "label": "p-443"}


def test_omit_removes_key_and_item(template):
    name = template('a: "{{.A}}"\nb: 1\nlist:\n  - "{{.A}}"\n  - keep\n')

    (document,) = render.render(name, {"A": render.OMIT})

    assert document == {"b": 1, "list": ["keep"]}


def test_missing_value_names_placeholder(template):
    name = template('a: "{{.MISSING}}"\n')

    with pytest.raises(render.TemplateError) as error:
        render.render(name, {})

    assert "MISSING" in str(error.value)
