"""Members, credentials and addresses of a join, without clusters."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import yaml

from federation.core.apply import OWNER_LABEL
from federation.core.errors import ExitCode, FederationError, InvalidInput, PreflightFailed
from federation.core.kube import ApiError, Unreachable
from federation.core.kubeconfig import Kubeconfig
from federation.core.registration import credentials as creds
from federation.core.registration.endpoint import provider_of, reachable_server
from federation.core.registration.join import aggregate_exit_code, check_not_federation_api, join_all
from federation.core.registration.model import (
    Federation,
    Member,
    contexts_for_server,
    member_from_context,
    member_from_file,
    normalised_server,
    read_controller_manager,
)
from federation.core.registration.unjoin import MemberObject
from federation.core.registration.unjoin import _cleanup_steps as cleanup_steps
from federation.core.registration.unjoin import _report_rejected as report_rejected
from federation.core.registration.unjoin import _run_cleanup as run_cleanup
from federation.core.status import Status
from federation.core.validation import DNS1123_SUBDOMAIN


def write_kubeconfig(tmp_path: Path, contexts: dict[str, str], user: dict | None = None) -> Path:
    """Write a kubeconfig with one cluster per context, the CA as a file path."""
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"cluster-{index}", "cluster": {"server": server, "certificate-authority": str(ca)}} for index, server in enumerate(contexts.values())],
        "users": [{"name": "user", "user": user or {"token": "secret-token"}}],
        "contexts": [{"name": name, "context": {"cluster": f"cluster-{index}", "user": "user"}} for index, name in enumerate(contexts)],
        "current-context": next(iter(contexts)),
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(document))
    return path


class FakeCluster:
    """The parts of ``kube.Cluster`` that object builders and readers use."""

    def __init__(self, context: str, server: str = "https://127.0.0.1:6443", deployments: list[dict] | None = None) -> None:
        self.context = context
        self.server = server
        self.deployments = deployments or []

    def list(self, api_version, kind, namespace=None, label_selector=None):
        return self.deployments


def federation(host_context: str = "federation-e2e-host") -> Federation:
    return Federation(FakeCluster(host_context), FakeCluster("federation-cluster"), "federation-system", "myfed", "example.com.", "google-clouddns")


@pytest.mark.parametrize("context", ["admin@kind:member2/eu", "arn:aws:eks:eu-west-1:123:cluster/prod", "Kind-Member"])
def test_member_name_derived_from_context(tmp_path, context):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {context: "https://127.0.0.1:6443"})])

    member = member_from_context(config, context)

    assert member.name != context
    assert DNS1123_SUBDOMAIN.match(member.name)
    assert member.context == context


def test_member_name_kept_when_valid(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"kind-member1": "https://127.0.0.1:6443"})])

    assert member_from_context(config, "kind-member1").name == "kind-member1"


def test_member_names_of_similar_contexts_differ(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"a:b": "https://127.0.0.1:1", "a/b": "https://127.0.0.1:2"})])

    assert member_from_context(config, "a:b").name != member_from_context(config, "a/b").name


def test_member_unknown_context_rejected(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"kind-member1": "https://127.0.0.1:6443"})])

    with pytest.raises(InvalidInput) as raised:
        member_from_context(config, "kind-nope")

    assert "--cluster-context='kind-nope'" in raised.value.message


def test_member_kubeconfig_is_flattened(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"kind-member1": "https://127.0.0.1:6443", "other": "https://127.0.0.1:7443"})])

    member = member_from_context(config, "kind-member1")
    cluster = member.kubeconfig["clusters"][0]["cluster"]

    assert len(member.kubeconfig["contexts"]) == 1
    assert "certificate-authority" not in cluster
    assert base64.b64decode(cluster["certificate-authority-data"]).startswith(b"-----BEGIN CERTIFICATE-----")


def test_member_from_file_uses_current_context(tmp_path):
    path = write_kubeconfig(tmp_path, {"first": "https://127.0.0.1:1", "second": "https://127.0.0.1:2"})

    member = member_from_file(path, "member-a")

    assert member.context == "first"
    assert member.name == "member-a"


def test_member_from_missing_file(tmp_path):
    with pytest.raises(InvalidInput) as raised:
        member_from_file(tmp_path / "absent", "member-a")

    assert str(tmp_path / "absent") in raised.value.message


def test_secret_holds_flattened_kubeconfig(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"kind-member1": "https://127.0.0.1:6443"})])
    member = member_from_context(config, "kind-member1")

    secret = creds.host_secret(federation(), member, "kind-member1", creds.secret_kubeconfig(member, "https://172.18.0.3:6443"))
    stored = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))

    assert secret["metadata"]["namespace"] == "federation-system"
    assert secret["metadata"]["labels"][OWNER_LABEL] == "myfed"
    assert stored["clusters"][0]["cluster"]["server"] == "https://172.18.0.3:6443"
    assert str(tmp_path) not in base64.b64decode(secret["data"]["kubeconfig"]).decode()
    assert stored["users"][0]["user"]["token"] == "secret-token"


def test_secret_kubeconfig_leaves_member_untouched(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"kind-member1": "https://127.0.0.1:6443"})])
    member = member_from_context(config, "kind-member1")

    creds.secret_kubeconfig(member, "https://172.18.0.3:6443")

    assert member.server == "https://127.0.0.1:6443"


def test_exec_plugin_rejected(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"eks": "https://127.0.0.1:6443"}, user={"exec": {"command": "aws"}})])
    member = member_from_context(config, "eks")

    with pytest.raises(InvalidInput) as raised:
        creds.secret_kubeconfig(member, member.server)

    assert "exec plugin" in raised.value.message
    assert "--credentials=serviceaccount" in raised.value.hint


def test_token_kubeconfig_uses_member_ca():
    member = Member("m", {"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": "T0xE"}}]}, "m")

    with_ca = creds.token_kubeconfig(member, "https://10.0.0.1:6443", "tok", "TkVX")
    without_ca = creds.token_kubeconfig(member, "https://10.0.0.1:6443", "tok", "")

    assert with_ca["clusters"][0]["cluster"]["certificate-authority-data"] == "TkVX"
    assert without_ca["clusters"][0]["cluster"]["certificate-authority-data"] == "T0xE"
    assert with_ca["users"][0]["user"] == {"token": "tok"}


def test_service_account_objects_named_and_labelled():
    member = Member("member1", {"clusters": [{"cluster": {"server": "https://127.0.0.1:1"}}]}, "kind-member1")

    objects = creds.service_account_objects(federation("admin@host:ctx"), member, "read")
    kinds = [obj["kind"] for obj in objects]
    account, token, role, binding = objects

    assert kinds == ["ServiceAccount", "Secret", "ClusterRole", "ClusterRoleBinding"]
    assert DNS1123_SUBDOMAIN.match(account["metadata"]["name"])
    assert account["metadata"]["name"].startswith("member1-admin-host-ctx-")
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == account["metadata"]["name"]
    assert role["metadata"]["name"].startswith("federation-controller-manager:myfed-member1-admin-host-ctx-")
    assert role["rules"][0]["verbs"] == ["get", "list", "watch"]
    assert binding["subjects"][0]["name"] == account["metadata"]["name"]
    for obj in objects:
        assert obj["metadata"]["labels"][OWNER_LABEL] == "myfed"
        assert obj["metadata"]["annotations"][creds.CLUSTER_ANNOTATION] == "member1"


def test_cluster_role_rules_unknown():
    member = Member("member1", {}, "kind-member1")

    with pytest.raises(InvalidInput) as raised:
        creds.service_account_objects(federation(), member, "some")

    assert raised.value.message.startswith("--cluster-role-rules=")


def test_cluster_object_shape():
    member = Member("member1", {}, "kind-member1")

    cluster = creds.cluster_object(federation(), member, "https://10.0.0.1:6443", "member1", "sa", "role")

    assert cluster["spec"]["serverAddressByClientCIDRs"] == [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://10.0.0.1:6443"}]
    assert cluster["spec"]["secretRef"] == {"name": "member1"}
    assert cluster["metadata"]["annotations"]["federation.kubernetes.io/servive-account-name"] == "sa"
    assert cluster["metadata"]["annotations"]["federation.kubernetes.io/cluster-role-name"] == "role"


# -- reachable_server -----------------------------------------------------------


def kind_member(context: str = "kind-member1", server: str = "https://127.0.0.1:38211") -> Member:
    return Member("member1", {"clusters": [{"name": "c", "cluster": {"server": server}}]}, context)


def test_kind_member_rewritten_on_kind_host():
    inspected = []

    def inspect(container):
        inspected.append(container)
        return ["172.18.0.3"]

    assert reachable_server(kind_member(), "kind", inspect) == "https://172.18.0.3:6443"
    assert inspected == ["member1-control-plane"]


def test_kind_member_localhost_rewritten():
    assert reachable_server(kind_member(server="https://localhost:38211"), "kind", lambda name: ["172.18.0.4"]) == "https://172.18.0.4:6443"


def test_kind_member_ipv6_address():
    assert reachable_server(kind_member(), "kind", lambda name: ["fc00:f853::3"]) == "https://[fc00:f853::3]:6443"


def test_kind_member_skips_empty_networks():
    assert reachable_server(kind_member(), "kind", lambda name: ["", "not-an-ip", "172.18.0.5"]) == "https://172.18.0.5:6443"


def test_kind_member_without_address_fails():
    with pytest.raises(PreflightFailed) as raised:
        reachable_server(kind_member(), "kind", lambda name: [])

    assert "member1-control-plane" in raised.value.message
    assert "https://127.0.0.1:38211" in raised.value.message


@pytest.mark.parametrize(
    ("member", "host_provider"),
    [
        (kind_member(), "other"),
        (kind_member(context="member1"), "kind"),
        (kind_member(server="https://10.1.2.3:6443"), "kind"),
    ],
)
def test_address_left_alone(member, host_provider):
    def inspect(container):
        raise AssertionError("docker must not be asked")

    assert reachable_server(member, host_provider, inspect) == member.server


def test_address_without_scheme_gets_https():
    assert reachable_server(kind_member(server="10.1.2.3:6443"), "other") == "https://10.1.2.3:6443"


def test_provider_of_host():
    assert provider_of(FakeCluster("kind-host", "https://127.0.0.1:40000")) == "kind"
    assert provider_of(FakeCluster("kind-host", "https://10.0.0.1:6443")) == "other"
    assert provider_of(FakeCluster("federation-e2e-host", "https://127.0.0.1:40000")) == "other"


# -- controller manager settings ------------------------------------------------


def deployment(name: str, command: list[str], annotations: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"template": {"spec": {"containers": [{"name": "cm", "command": command}]}}},
    }


def test_controller_manager_flags_read():
    host = FakeCluster("host", deployments=[deployment("federation-controller-manager", ["/hyperkube", "federation-controller-manager", "--federation-name=f", "--zone-name=z.example.", "--dns-provider=coredns"])])

    settings = read_controller_manager(host, "federation")

    assert (settings.name, settings.zone, settings.provider) == ("f", "z.example.", "coredns")


def test_controller_manager_annotations_fill_gaps():
    annotations = {"federations": "f=z.example", "dns-provider": "coredns", "nameserver": "10.0.0.10:53"}
    host = FakeCluster("host", deployments=[deployment("f-controller-manager", ["/hyperkube", "federation-controller-manager"], annotations)])

    settings = read_controller_manager(host, "federation-system")

    assert (settings.name, settings.zone, settings.provider) == ("f", "z.example", "coredns")
    assert settings.nameservers == ["10.0.0.10:53"]


def test_controller_manager_several_need_a_name():
    host = FakeCluster("host", deployments=[
        deployment("a-controller-manager", ["federation-controller-manager", "--federation-name=a"]),
        deployment("b-controller-manager", ["federation-controller-manager", "--federation-name=b"]),
    ])

    with pytest.raises(PreflightFailed):
        read_controller_manager(host, "federation-system")
    assert read_controller_manager(host, "federation-system", "b").name == "b"


def test_controller_manager_absent():
    assert read_controller_manager(FakeCluster("host"), "federation-system").deployment == ""


# -- rollback -------------------------------------------------------------------


class RecordingCluster:
    def __init__(self, fail: set[str] | None = None) -> None:
        self.context = "member"
        self.deleted: list[str] = []
        self.fail = fail or set()

    def delete(self, api_version, kind, name, namespace=None):
        if name in self.fail:
            raise PreflightFailed(f"cannot delete {name}")
        self.deleted.append(name)
        return True


def test_rollback_deletes_newest_first():
    from federation.core.registration.rollback import Rollback
    from federation.core.status import Status

    cluster = RecordingCluster()
    rollback = Rollback(Status(quiet=True))
    for name in ("namespace", "account", "secret"):
        rollback.created(cluster, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "ns"}})
    restored = []
    rollback.restore("restore the Corefile", lambda: restored.append(True))

    failed = rollback.run()

    assert failed == []
    assert restored == [True]
    assert cluster.deleted == ["secret", "account", "namespace"]


def test_rollback_reports_failures_and_goes_on():
    from federation.core.registration.rollback import Rollback
    from federation.core.status import Status

    cluster = RecordingCluster(fail={"account"})
    rollback = Rollback(Status(quiet=True))
    for name in ("namespace", "account", "secret"):
        rollback.created(cluster, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "ns"}})

    failed = rollback.run()

    assert len(failed) == 1
    assert "cannot delete account" in failed[0]
    assert cluster.deleted == ["secret", "namespace"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://127.0.0.1:6443", "https://127.0.0.1:6443/"),
        ("https://API.example.com", "https://api.example.com:443"),
        ("api.example.com:6443", "https://api.example.com:6443"),
        ("http://api.example.com", "http://api.example.com:80"),
    ],
)
def test_normalised_server_equal(first, second):
    assert normalised_server(first) == normalised_server(second)


@pytest.mark.parametrize(("first", "second"), [("https://127.0.0.1:6443", "https://localhost:6443"), ("https://a:6443", "https://a:7443"), ("http://a", "https://a")])
def test_normalised_server_different(first, second):
    assert normalised_server(first) != normalised_server(second)


def test_contexts_for_server_skips_excluded(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"member": "https://127.0.0.1:6443", "federation": "https://127.0.0.2:443", "again": "https://127.0.0.1:6443/"})])

    assert contexts_for_server(config, "https://127.0.0.1:6443") == ["member", "again"]
    assert contexts_for_server(config, "https://127.0.0.1:6443", exclude=("member",)) == ["again"]
    assert contexts_for_server(config, "https://127.0.0.3:6443") == []


def test_member_unknown_context_hint_excludes(tmp_path):
    config = Kubeconfig.load([write_kubeconfig(tmp_path, {"kind-member1": "https://127.0.0.1:6443", "federation-cluster": "https://127.0.0.2:443"})])

    with pytest.raises(InvalidInput) as raised:
        member_from_context(config, "kind-nope", exclude=("federation-cluster",))

    assert "kind-member1" in raised.value.hint
    assert "federation-cluster" not in raised.value.hint


@pytest.mark.parametrize(("context", "server"), [("federation-cluster", "https://127.0.0.9:6443"), ("other-name", "https://127.0.0.1:6443")])
def test_join_rejects_federation_api_member(context, server):
    member = Member("member", {"clusters": [{"name": "c", "cluster": {"server": server}}]}, context)

    with pytest.raises(InvalidInput) as raised:
        check_not_federation_api(federation(), member)

    assert repr(context) in raised.value.message
    assert "leave context" in raised.value.hint


def test_join_accepts_other_member():
    member = Member("member", {"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.9:6443"}}]}, "kind-member1")

    check_not_federation_api(federation(), member)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ({ExitCode.PREFLIGHT}, ExitCode.PREFLIGHT),
        ({ExitCode.INVALID_INPUT}, ExitCode.INVALID_INPUT),
        ({ExitCode.PREFLIGHT, ExitCode.INVALID_INPUT}, ExitCode.PREFLIGHT),
        ({ExitCode.PREFLIGHT, ExitCode.TIMEOUT}, ExitCode.TIMEOUT),
        ({ExitCode.PREFLIGHT, ExitCode.FAILED}, ExitCode.FAILED),
    ],
)
def test_join_all_exit_code(codes, expected):
    assert aggregate_exit_code(codes) == expected


def test_join_all_unreachable_is_preflight():
    class Unanswered(FakeCluster):
        def request(self, *args, **kwargs):
            raise Unreachable(f"cannot reach the API server {self.server} of context {self.context!r}: connection refused")

    class UnreachableMember(Member):
        def cluster(self):
            return Unanswered(self.context, self.server)

    member = UnreachableMember("dead", {"clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}]}, "dead")
    target = federation()
    target.host.client = target.api.client = None  # join_all builds the shared clients first

    with pytest.raises(FederationError) as raised:
        join_all(target, [member], Status(quiet=True))

    assert raised.value.exit_code == ExitCode.PREFLIGHT
    assert "https://127.0.0.1:1" in raised.value.message


def test_unjoin_rejected_cleanup_lists_commands():
    class Rejecting(FakeCluster):
        """A member that lets the ClusterRoleBinding go and then rejects the token, as RBAC does."""

        def delete(self, api_version, kind, name, namespace=None):
            if kind != "ClusterRoleBinding":
                raise ApiError(403, "Forbidden", "forbidden", self.context, f"deleting {kind} {name!r}")
            return True

    rbac = "rbac.authorization.k8s.io/v1"
    objects = [
        MemberObject(rbac, "ClusterRoleBinding", "role", None),
        MemberObject(rbac, "ClusterRole", "role", None),
        MemberObject("v1", "ServiceAccount", "account", "federation-system"),
        MemberObject("v1", "Secret", "account-token", "federation-system"),
    ]
    cluster = Rejecting("member")
    stream = io.StringIO()
    status = Status(stream=stream)

    rejected = run_cleanup(cleanup_steps(cluster, None, objects, None, status))
    assert rejected is not None
    with pytest.raises(FederationError) as raised:
        report_rejected("member", cluster, True, *rejected, status)

    output = stream.getvalue()
    assert raised.value.exit_code == ExitCode.FAILED
    assert "--cluster-context=<a context with admin rights in the member>" in raised.value.hint
    assert "403 Forbidden" in output
    assert "kubectl --context=<admin> delete clusterrolebinding role" not in output
    assert "kubectl --context=<admin> delete clusterrole role" in output
    assert "kubectl --context=<admin> -n federation-system delete serviceaccount account" in output
    assert "kubectl --context=<admin> -n federation-system delete secret account-token" in output
