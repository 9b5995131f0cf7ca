"""Corefile blocks, the kube-dns federations map and the legacy --federations flag."""

from __future__ import annotations

import json

import pytest

from federation.core import dns
from federation.core.errors import InvalidInput

# The Corefile kind 0.20+ and kubeadm write.
KIND_COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


# -- Corefile -----------------------------------------------------------------


def test_corefile_add_then_remove_restores_bytes():
    added = dns.add_corefile_block(KIND_COREFILE, "myfed", "example.com.", "google-clouddns")

    assert added != KIND_COREFILE
    assert dns.remove_corefile_block(added, "myfed") == KIND_COREFILE


def test_corefile_restore_without_trailing_newline():
    original = KIND_COREFILE.rstrip("\n")

    added = dns.add_corefile_block(original, "myfed", "example.com", "google-clouddns")

    assert dns.remove_corefile_block(added, "myfed") == original


def test_corefile_restore_with_crlf_and_blank_lines():
    original = KIND_COREFILE.replace("\n", "\r\n") + "\r\n\r\n"

    added = dns.add_corefile_block(original, "myfed", "example.com", "aws-route53")

    assert dns.remove_corefile_block(added, "myfed") == original


def test_corefile_add_is_idempotent():
    once = dns.add_corefile_block(KIND_COREFILE, "myfed", "example.com", "google-clouddns")
    twice = dns.add_corefile_block(once, "myfed", "example.com", "google-clouddns")

    assert twice == once
    assert twice.count(dns.begin_marker("myfed")) == 1


def test_corefile_add_replaces_changed_block_in_place():
    once = dns.add_corefile_block(KIND_COREFILE, "myfed", "example.com", "coredns", ["10.0.0.10:53"])
    changed = dns.add_corefile_block(once, "myfed", "example.com", "coredns", ["10.0.0.11:53"])

    assert "10.0.0.11:53" in changed
    assert "10.0.0.10:53" not in changed
    assert changed.count(dns.begin_marker("myfed")) == 1
    assert dns.remove_corefile_block(changed, "myfed") == KIND_COREFILE


def test_corefile_block_keeps_user_edits_after_it():
    added = dns.add_corefile_block(KIND_COREFILE, "myfed", "example.com", "google-clouddns")
    edited = added + "other.example:53 {\n    forward . 10.1.1.1\n}\n"

    removed = dns.remove_corefile_block(edited, "myfed")

    assert removed == KIND_COREFILE + "other.example:53 {\n    forward . 10.1.1.1\n}\n"


def test_corefile_two_federations_each_get_a_block():
    first = dns.add_corefile_block(KIND_COREFILE, "alpha", "alpha.example", "google-clouddns")
    both = dns.add_corefile_block(first, "beta", "beta.example", "google-clouddns")

    assert both.count("# BEGIN federation") == 2
    assert dns.remove_corefile_block(both, "beta") == first
    assert dns.remove_corefile_block(dns.remove_corefile_block(both, "alpha"), "beta") == KIND_COREFILE


def test_corefile_remove_without_block_changes_nothing():
    assert dns.remove_corefile_block(KIND_COREFILE, "myfed") == KIND_COREFILE


def test_corefile_block_is_valid_corefile():
    added = dns.add_corefile_block(KIND_COREFILE, "myfed", "example.com.", "coredns", ["10.0.0.10:53", "10.0.0.11"])
    keys = [block.keys for block in dns.parse_server_blocks(added)]

    assert keys == [(".:53",), ("example.com:53",)]
    assert "forward . 10.0.0.10:53 10.0.0.11" in added


def test_corefile_public_provider_forwards_to_resolv_conf():
    block = dns.corefile_block("myfed", "example.com", "google-clouddns")

    assert "forward . /etc/resolv.conf" in block
    assert "public zone in google-clouddns" in block


def test_corefile_coredns_without_nameservers_forwards_to_resolv_conf():
    block = dns.corefile_block("myfed", "example.com", "coredns")

    assert "forward . /etc/resolv.conf" in block
    assert "No nameservers were configured" in block


def test_corefile_other_markers_are_not_touched():
    other = KIND_COREFILE + "#lighthouse-start AUTO-GENERATED SECTION. DO NOT EDIT\nclusterset.local:53 {\n    forward . 10.2.2.2\n}\n#lighthouse-end\n"

    added = dns.add_corefile_block(other, "myfed", "example.com", "google-clouddns")

    assert dns.remove_corefile_block(added, "myfed") == other


@pytest.mark.parametrize(
    ("corefile", "expected"),
    [
        (".:53 {\n    errors\n", "unclosed block"),
        (".:53 {\n}\n}\n", "never opened"),
        ('.:53 {\n    forward . "/etc/resolv.conf\n}\n', "unterminated quoted string"),
        ("{\n}\n", "without server keys"),
        (".:53 {\n}\nexample.com\n", "have no block"),
    ],
)
def test_corefile_malformed_is_rejected(corefile, expected):
    with pytest.raises(InvalidInput) as raised:
        dns.add_corefile_block(corefile, "myfed", "example.com", "google-clouddns")

    assert expected in raised.value.message


def test_corefile_damaged_markers_are_rejected():
    damaged = KIND_COREFILE + dns.begin_marker("myfed") + "\n"

    with pytest.raises(InvalidInput) as raised:
        dns.remove_corefile_block(damaged, "myfed")

    assert "damaged markers" in raised.value.message
    assert "'myfed'" in raised.value.message


def test_corefile_zone_served_elsewhere_is_rejected():
    corefile = KIND_COREFILE + "Example.COM.:53 {\n    forward . 10.9.9.9\n}\n"

    with pytest.raises(InvalidInput) as raised:
        dns.add_corefile_block(corefile, "myfed", "example.com", "google-clouddns")

    assert "already has a server block for example.com at line 21" in raised.value.message


def test_corefile_same_zone_other_port_is_accepted():
    corefile = KIND_COREFILE + "example.com:5353 {\n    forward . 10.9.9.9\n}\n"

    added = dns.add_corefile_block(corefile, "myfed", "example.com", "google-clouddns")

    assert dns.has_corefile_block(added, "myfed")


def test_corefile_comments_and_snippets_are_skipped():
    corefile = "# a { comment\n(common) {\n    errors\n}\n.:53 {\n    import common\n}\n"

    blocks = dns.parse_server_blocks(corefile)

    assert [block.keys for block in blocks] == [(".:53",)]


@pytest.mark.parametrize("server", ["10.0.0.1", "10.0.0.1:53", "[fd00::1]:53", "fd00::1"])
def test_nameserver_valid(server):
    assert dns.validate_nameserver(server) == server


@pytest.mark.parametrize("server", ["dns.example.com", "10.0.0.1:0", "10.0.0.1:http", "", "10.0.0.1:99999"])
def test_nameserver_invalid(server):
    with pytest.raises(InvalidInput):
        dns.validate_nameserver(server)


def test_provider_config_endpoints():
    text = "[Global]\netcd-endpoints = http://etcd:2379\nzones = example.com.\ncoredns-endpoints = 10.0.0.10:53, 10.0.0.11:53\n"

    assert dns.nameservers_from_provider_config(text) == ["10.0.0.10:53", "10.0.0.11:53"]


def test_provider_config_without_endpoints():
    assert dns.nameservers_from_provider_config("[Global]\nproject-id = p\n") == []


def test_provider_config_not_ini():
    with pytest.raises(InvalidInput) as raised:
        dns.nameservers_from_provider_config("coredns-endpoints = 1.2.3.4\n")

    assert "FEDERATION_DNS_PROVIDER_CONFIG" in raised.value.hint


# -- kube-dns ConfigMap ---------------------------------------------------------


def test_federations_merge_keeps_others():
    merged = dns.merge_federations("other=other.example", {"myfed": "example.com"})

    assert merged == "other=other.example,myfed=example.com"


def test_federations_merge_is_idempotent():
    once = dns.merge_federations("other=o.example", {"myfed": "example.com"})

    assert dns.merge_federations(once, {"myfed": "example.com"}) == once


def test_federations_merge_updates_zone_in_place():
    merged = dns.merge_federations("myfed=old.example,other=o.example", {"myfed": "new.example"})

    assert merged == "myfed=new.example,other=o.example"


def test_federations_remove_keeps_others():
    assert dns.remove_federations("a=a.example,myfed=example.com,b=b.example", ["myfed"]) == "a=a.example,b=b.example"


@pytest.mark.parametrize(("value", "entry"), [("myfed", "'myfed'"), ("=example.com", "'=example.com'"), ("myfed=", "'myfed='"), ("a=b,,c", "'c'")])
def test_federations_malformed(value, entry):
    with pytest.raises(InvalidInput) as raised:
        dns.parse_federations(value)

    assert f"invalid entry {entry}" in raised.value.message
    assert "name=zone" in raised.value.hint


def test_federations_empty_items_skipped():
    assert dns.parse_federations("a=a.example,,b=b.example,") == {"a": "a.example", "b": "b.example"}


def test_federation_entries_default_strips_dot():
    assert dns.federation_entries("myfed", "example.com.") == {"myfed": "example.com"}


def test_federation_entries_domain_map_replaces():
    entries = dns.federation_entries("myfed", "example.com.", "a=a.example,b=b.example")

    assert entries == {"a": "a.example", "b": "b.example"}


def test_federation_entries_bad_domain_map_names_variable():
    with pytest.raises(InvalidInput) as raised:
        dns.federation_entries("myfed", "example.com", "broken")

    assert raised.value.message.startswith("FEDERATIONS_DOMAIN_MAP=")


def test_kube_dns_join_keeps_other_keys():
    data = {"stubDomains": '{"acme.local": ["1.2.3.4"]}', "upstreamNameservers": '["8.8.8.8"]', "federations": "other=o.example"}

    joined = dns.join_kube_dns_data(data, {"myfed": "example.com"})

    assert joined["federations"] == "other=o.example,myfed=example.com"
    assert joined["stubDomains"] == data["stubDomains"]
    assert joined["upstreamNameservers"] == data["upstreamNameservers"]


def test_kube_dns_join_unjoin_round_trip():
    data = {"upstreamNameservers": '["8.8.8.8"]'}

    joined = dns.join_kube_dns_data(data, {"myfed": "example.com"}, {"example.com.": ["10.0.0.10"]})
    restored = dns.unjoin_kube_dns_data(joined, ["myfed"], ["example.com"])

    assert restored == data


def test_kube_dns_stub_domains_merged_not_overwritten():
    data = {"stubDomains": '{"acme.local": ["1.2.3.4"]}'}

    joined = dns.join_kube_dns_data(data, {"myfed": "example.com"}, {"example.com": ["10.0.0.10"]})
    stub = json.loads(joined["stubDomains"])

    assert stub == {"acme.local": ["1.2.3.4"], "example.com": ["10.0.0.10"]}


def test_kube_dns_unjoin_keeps_other_stub_domains():
    data = {"stubDomains": '{"acme.local": ["1.2.3.4"], "example.com": ["10.0.0.10"]}', "federations": "myfed=example.com"}

    restored = dns.unjoin_kube_dns_data(data, ["myfed"], ["example.com"])

    assert json.loads(restored["stubDomains"]) == {"acme.local": ["1.2.3.4"]}
    assert "federations" not in restored


def test_kube_dns_unjoin_leaves_untouched_stub_bytes():
    data = {"stubDomains": '{ "acme.local" : ["1.2.3.4"] }', "federations": "myfed=example.com"}

    restored = dns.unjoin_kube_dns_data(data, ["myfed"], ["example.com"])

    assert restored["stubDomains"] == data["stubDomains"]


def test_kube_dns_bad_stub_domains_rejected():
    with pytest.raises(InvalidInput) as raised:
        dns.join_kube_dns_data({"stubDomains": "[1, 2]"}, {"myfed": "example.com"}, {"example.com": ["10.0.0.10"]})

    assert "stubDomains" in raised.value.message


# -- legacy flag --------------------------------------------------------------


def test_flag_added_when_absent():
    args = ["--domain=cluster.local.", "--dns-port=10053"]

    assert dns.join_federations_flag(args, {"myfed": "example.com"}) == [*args, "--federations=myfed=example.com"]


def test_flag_merged_in_place():
    args = ["--domain=cluster.local.", "--federations=other=o.example", "--dns-port=10053"]

    joined = dns.join_federations_flag(args, {"myfed": "example.com"})

    assert joined == ["--domain=cluster.local.", "--federations=other=o.example,myfed=example.com", "--dns-port=10053"]


def test_flag_separate_value_form():
    args = ["--federations", "other=o.example", "--dns-port=10053"]

    assert dns.join_federations_flag(args, {"myfed": "example.com"}) == ["--federations=other=o.example,myfed=example.com", "--dns-port=10053"]


def test_flag_join_unjoin_round_trip():
    args = ["--domain=cluster.local.", "--dns-port=10053"]

    joined = dns.join_federations_flag(args, {"myfed": "example.com"})

    assert dns.unjoin_federations_flag(joined, ["myfed"]) == args


def test_flag_unjoin_keeps_other_federations():
    args = ["--federations=other=o.example,myfed=example.com"]

    assert dns.unjoin_federations_flag(args, ["myfed"]) == ["--federations=other=o.example"]


def test_flag_unjoin_without_flag_is_unchanged():
    args = ["--domain=cluster.local."]

    assert dns.unjoin_federations_flag(args, ["myfed"]) == args


def test_flag_without_value_rejected():
    with pytest.raises(InvalidInput):
        dns.join_federations_flag(["--federations"], {"myfed": "example.com"})


@pytest.mark.parametrize(
    ("image", "args", "expected"),
    [
        ("registry.k8s.io/dns/k8s-dns-kube-dns:1.22.28", [], True),
        ("k8s.gcr.io/k8s-dns-kube-dns-amd64:1.14.13", ["--config-dir=/kube-dns-config"], True),
        ("gcr.io/google_containers/kubedns-amd64:1.9", ["--config-map=kube-dns"], True),
        ("gcr.io/google_containers/kubedns-amd64:1.9", [], True),
        ("gcr.io/google_containers/kubedns-amd64:1.8", [], False),
        ("gcr.io/google_containers/kubedns-amd64:1.4", ["--domain=cluster.local."], False),
        ("example.com/kubedns:latest", [], True),
    ],
)
def test_kube_dns_form_detection(image, args, expected):
    assert dns.kube_dns_reads_configmap(image, args) is expected


def test_image_version_with_registry_port():
    assert dns.image_version("127.0.0.1:5000/kubedns-amd64:1.8") == (1, 8)
