"""Name, zone and image checks."""

from __future__ import annotations

import pytest

from federation.core.errors import InvalidInput
from federation.core.validation import cluster_name_from_context, dns1123_label, dns_zone, image_repository, image_tag


@pytest.mark.parametrize("value", ["federation", "a", "fed-1", "x" * 63])
def test_label_accepts(value):
    assert dns1123_label("FEDERATION_NAMESPACE", value) == value


@pytest.mark.parametrize("value", ["", "Federation", "fed_1", "-fed", "fed-", "x" * 64, "a.b"])
def test_label_rejects(value):
    with pytest.raises(InvalidInput) as error:
        dns1123_label("FEDERATION_NAMESPACE", value)

    assert error.value.message.startswith(f"FEDERATION_NAMESPACE={value!r}")
    assert "lowercase" in error.value.hint


@pytest.mark.parametrize("value", ["federation.example", "federation.example.", "my-fed.example.com"])
def test_zone_accepts(value):
    assert dns_zone("DNS_ZONE_NAME", value) == value


@pytest.mark.parametrize("value", ["Federation.example", "fed_eration.example", "federation..example", ".federation.example", "federation.example..", "example", ""])
def test_zone_rejects(value):
    with pytest.raises(InvalidInput) as error:
        dns_zone("DNS_ZONE_NAME", value)

    assert "DNS_ZONE_NAME" in error.value.message


@pytest.mark.parametrize("value", ["gcr.io/my-project", "127.0.0.1:5000/federation", "localhost:5000/federation", "k8s.gcr.io", "registry.example.com/a/b_c"])
def test_repository_accepts(value):
    assert image_repository("KUBE_REGISTRY", value) == value


@pytest.mark.parametrize("value", ["gcr.io/My-Project", "gcr.io/my project", "", "gcr.io/", "/federation"])
def test_repository_rejects(value):
    with pytest.raises(InvalidInput):
        image_repository("KUBE_REGISTRY", value)


def test_tag_rejects_plus():
    with pytest.raises(InvalidInput) as error:
        image_tag("FEDERATION_IMAGE_TAG", "v1.5.0+abc")

    assert "'+' with '_'" in error.value.hint


@pytest.mark.parametrize("context", ["kind-member1", "federation-e2e-gce-us-central1-a"])
def test_valid_context_kept_as_name(context):
    assert cluster_name_from_context(context) == context


@pytest.mark.parametrize("context", ["admin@kind:member2/eu", "arn:aws:eks:us-east-1:123:cluster/prod", "Upper_Case"])
def test_context_becomes_dns1123(context):
    name = cluster_name_from_context(context)

    assert dns1123_label("name", name.replace(".", "-")[:63])
    assert name != context


def test_derived_names_do_not_collide():
    assert cluster_name_from_context("a:b") != cluster_name_from_context("a/b")
