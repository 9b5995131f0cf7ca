"""develop.sh and push-federation-images.sh pieces that need no container engine."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from federation.core.environment import Environment
from federation.core.errors import CommandFailed, InvalidInput, PreflightFailed
from federation.core.gcloud import GcloudConfig, gcr_repository, is_gcr, load_config
from federation.core.images import ContainerEngine, ImageFile, push_fix, registry_host, write_build_context
from federation.core.runner import StepFailed, execute
from federation.core.status import Status
from federation.develop import settings
from federation.develop.push_images import PushImagesJob, push_images_steps
from tests.docker_support import kube_root, unavailable  # noqa: F401
from tests.e2e.scripts import DEVELOP, PUSH_IMAGES, run


def env_of(**values: str) -> Environment:
    return Environment(values)


@pytest.mark.parametrize(
    "value, problem",
    [
        ("127.0.0.1:5000/Federation", "uppercase"),
        ("GCR.IO/project", "uppercase"),
        ("localhost:5000/my federation", "white space"),
        ("localhost:5000/bad//path", "not a valid image repository"),
    ],
)
def test_registry_rejects_bad_value(value, problem):
    with pytest.raises(InvalidInput) as raised:
        settings.kube_registry(env_of(KUBE_REGISTRY=value))

    assert "KUBE_REGISTRY" in raised.value.message
    assert repr(value) in raised.value.message
    assert problem in raised.value.message
    assert raised.value.hint


def test_registry_uppercase_hint_gives_lowercase():
    with pytest.raises(InvalidInput) as raised:
        settings.kube_registry(env_of(KUBE_REGISTRY="localhost:5000/Fed"))

    assert "'localhost:5000/fed'" in raised.value.hint


def test_registry_default_other_provider():
    assert settings.kube_registry(env_of(KUBERNETES_PROVIDER="kind")) == "localhost:5000/federation"
    assert settings.kube_registry(env_of(KUBERNETES_PROVIDER="kind", KUBE_PROJECT="team")) == "localhost:5000/team"
    assert settings.kube_registry(env_of(KUBERNETES_PROVIDER="aws", PROJECT="other")) == "localhost:5000/other"


def test_registry_default_gce_needs_project(tmp_path):
    with pytest.raises(InvalidInput) as raised:
        settings.kube_registry(env_of(HOME=str(tmp_path), PATH=""))

    assert "KUBE_REGISTRY" in raised.value.message
    assert "gcloud" in raised.value.message


def write_gcloud_config(home: Path, name: str, body: str) -> Path:
    config_dir = home / ".config" / "gcloud"
    (config_dir / "configurations").mkdir(parents=True)
    (config_dir / "active_config").write_text(f"{name}\n")
    (config_dir / "configurations" / f"config_{name}").write_text(body)
    return config_dir


def fake_gcloud(tmp_path: Path) -> Path:
    """Return a PATH directory with a gcloud that fails if it is ever run."""
    directory = tmp_path / "bin"
    directory.mkdir()
    program = directory / "gcloud"
    program.write_text("#!/bin/sh\necho 'gcloud must not run in this test' >&2\nexit 99\n")
    program.chmod(0o755)
    return directory


def test_gcloud_config_read_from_files(tmp_path):
    write_gcloud_config(tmp_path, "work", "[core]\naccount = dev@example.com\nproject = example.com:team\n")

    config = load_config({"HOME": str(tmp_path), "PATH": str(fake_gcloud(tmp_path))})

    assert config.account == "dev@example.com"
    assert config.project == "example.com:team"
    assert config.usable


def test_gcloud_unusable_without_account(tmp_path):
    write_gcloud_config(tmp_path, "default", "[core]\nproject = team\n")

    config = load_config({"HOME": str(tmp_path), "PATH": str(fake_gcloud(tmp_path))})

    assert config.project == "team"
    assert not config.usable


def test_gcloud_unusable_when_not_installed(tmp_path):
    write_gcloud_config(tmp_path, "default", "[core]\naccount = dev@example.com\n")

    config = load_config({"HOME": str(tmp_path), "PATH": str(tmp_path / "empty")})

    assert not config.usable


def test_gcloud_environment_wins(tmp_path):
    write_gcloud_config(tmp_path, "default", "[core]\nproject = from-file\n")

    config = load_config({"HOME": str(tmp_path), "PATH": "", "CLOUDSDK_CORE_PROJECT": "from-env"})

    assert config.project == "from-env"


def test_registry_default_gce_uses_gcloud_project(tmp_path):
    write_gcloud_config(tmp_path, "default", "[core]\naccount = dev@example.com\nproject = example.com:team\n")

    registry = settings.kube_registry(env_of(HOME=str(tmp_path), PATH=str(fake_gcloud(tmp_path)), KUBERNETES_PROVIDER="gke"))

    assert registry == "gcr.io/example.com/team"


def test_gcr_detection():
    assert is_gcr("gcr.io/project")
    assert is_gcr("eu.gcr.io/project")
    assert not is_gcr("localhost:5000/gcr.io")
    assert not is_gcr("notgcr.io/project")
    assert gcr_repository("team") == "gcr.io/team"


def test_push_repo_base_required_off_gce():
    with pytest.raises(InvalidInput) as raised:
        settings.push_repo_base(env_of(KUBERNETES_PROVIDER="kind"))

    assert "FEDERATION_PUSH_REPO_BASE" in raised.value.message


@pytest.mark.parametrize("program", ["docker", "podman"])
def test_engine_argv(program, tmp_path):
    engine = ContainerEngine(program)

    assert engine.build_argv("r/i:t", tmp_path) == [program, "build", "--network=none", "--tag", "r/i:t", str(tmp_path)]
    assert engine.build_argv("r/i:t", tmp_path, network="host", pull=True) == [program, "build", "--network=host", "--tag", "r/i:t", "--pull", str(tmp_path)]
    assert engine.push_argv("r/i:t") == [program, "push", "r/i:t"]
    assert engine.pull_argv("r/i:t") == [program, "pull", "r/i:t"]
    assert engine.tag_argv("a:1", "b:2") == [program, "tag", "a:1", "b:2"]
    assert engine.inspect_argv("r/i:t") == [program, "image", "inspect", "--format", "{{.Id}}", "r/i:t"]
    assert engine.run_time_argv("r/i:t", ["/hyperkube"]) == [program, "run", "--rm", "--network=none", "r/i:t", "/hyperkube"]


def test_engine_argv_differences(tmp_path):
    docker, podman = ContainerEngine("docker"), ContainerEngine("podman")

    assert docker.push_argv("r/i:t", tmp_path) == ["docker", "--config", str(tmp_path), "push", "r/i:t"]
    assert podman.push_argv("r/i:t", tmp_path) == ["podman", "push", "--authfile", str(tmp_path / "config.json"), "r/i:t"]
    assert docker.untag_argv("r/i:t") == ["docker", "rmi", "--no-prune", "r/i:t"]
    assert podman.untag_argv("r/i:t") == ["podman", "untag", "r/i:t", "r/i:t"]
    assert docker.version_argv() == ["docker", "version", "--format", "{{.Server.Version}}"]
    assert podman.version_argv() == ["podman", "version", "--format", "{{.Version}}"]


def test_kind_load_argv_per_engine():
    assert ContainerEngine("docker").kind_load_argv("r/i:t", "member1") == (["kind", "load", "docker-image", "--name", "member1", "r/i:t"], {})
    assert ContainerEngine("podman").kind_load_argv("r/i:t", "member1")[1] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"}


def test_engine_from_environment():
    assert ContainerEngine.from_environment({}).program == "docker"
    assert ContainerEngine.from_environment({"CONTAINER_ENGINE": "podman"}).program == "podman"
    with pytest.raises(InvalidInput) as raised:
        ContainerEngine.from_environment({"CONTAINER_ENGINE": "rkt"})
    assert "CONTAINER_ENGINE" in raised.value.message


def test_daemon_address():
    assert ContainerEngine("docker").daemon_address == "unix:///var/run/docker.sock"
    assert ContainerEngine("docker", {"DOCKER_HOST": "tcp://127.0.0.1:2375"}).daemon_address == "tcp://127.0.0.1:2375"
    assert ContainerEngine("podman", {"CONTAINER_HOST": "unix:///run/podman.sock"}).daemon_address == "unix:///run/podman.sock"


def test_build_context_layout(tmp_path):
    binary = tmp_path / "hyperkube"
    binary.write_text("binary")
    context = tmp_path / "context"
    context.mkdir()

    write_build_context(context, "base:1", [ImageFile(binary, "/usr/local/bin/hyperkube", links=("/hyperkube",))])

    assert (context / "Dockerfile").read_text() == "FROM base:1\nCOPY rootfs/ /\n"
    assert (context / "rootfs/usr/local/bin/hyperkube").read_text() == "binary"
    assert os.readlink(context / "rootfs/hyperkube") == "usr/local/bin/hyperkube"
    assert os.access(context / "rootfs/usr/local/bin/hyperkube", os.X_OK)


def test_registry_host():
    assert registry_host("127.0.0.1:5000/a/b:1") == "127.0.0.1:5000"
    assert registry_host("localhost/a:1") == "localhost"
    assert registry_host("gcr.io/p/i:1") == "gcr.io"
    assert registry_host("library/busybox:1") == "docker.io"
    assert registry_host("busybox") == "docker.io"


def test_push_fix_from_error_text():
    assert "insecure-registries" in push_fix("http: server gave HTTP response to HTTPS client", "r:5000", "docker", "KUBE_REGISTRY")
    assert "start the registry" in push_fix("dial tcp 127.0.0.1:5001: connect: connection refused", "127.0.0.1:5001", "docker", "KUBE_REGISTRY")
    assert "docker login r" in push_fix("denied: requested access to the resource is denied", "r", "docker", "KUBE_REGISTRY")


class CommandRecorder:
    """Replaces ``federation.core.images.run``: records each command and fails the ones ``failing`` selects."""

    def __init__(self, failing=lambda argv: False, stderr: str = "failed") -> None:
        self.commands: list[list[str]] = []
        self.failing = failing
        self.stderr = stderr

    def __call__(self, *argv: str, **options) -> str:
        self.commands.append(list(argv))
        if self.failing(list(argv)):
            raise CommandFailed(" ".join(argv), 1, self.stderr)
        return ""


@pytest.fixture
def record_commands(monkeypatch):
    """Return a function that installs a ``CommandRecorder`` in place of the real docker or podman."""

    def install(**options) -> CommandRecorder:
        recorder = CommandRecorder(**options)
        monkeypatch.setattr("federation.core.images.run", recorder)
        return recorder

    return install


def test_build_missing_base_stops_before_build(record_commands, tmp_path):
    recorder = record_commands(failing=lambda argv: argv[1:3] == ["image", "inspect"])
    binary = tmp_path / "hyperkube"
    binary.write_text("binary")

    with pytest.raises(PreflightFailed) as raised:
        ContainerEngine("docker").build("r/i:t", "debian:jessie", [ImageFile(binary, "/hyperkube")])

    assert recorder.commands == [["docker", "image", "inspect", "--format", "{{.Id}}", "debian:jessie"]]
    assert raised.value.exit_code == 4
    assert "BASEIMAGE='debian:jessie' not found among the local images of docker" in raised.value.message
    assert "docker pull debian:jessie" in raised.value.hint
    assert "--pull" in raised.value.hint


def test_build_inspects_base_before_build(record_commands, tmp_path):
    recorder = record_commands()
    binary = tmp_path / "hyperkube"
    binary.write_text("binary")

    ContainerEngine("podman").build("r/i:t", "local/base:1", [ImageFile(binary, "/hyperkube")])

    assert [argv[:3] for argv in recorder.commands] == [["podman", "image", "inspect"], ["podman", "build", "--network=none"]]
    assert recorder.commands[0][-1] == "local/base:1"


@pytest.mark.parametrize("base, pull", [("debian:jessie", True), ("scratch", False)])
def test_build_skips_base_check(record_commands, tmp_path, base, pull):
    recorder = record_commands(failing=lambda argv: argv[1:3] == ["image", "inspect"])
    binary = tmp_path / "hyperkube"
    binary.write_text("binary")

    ContainerEngine("docker").build("r/i:t", base, [ImageFile(binary, "/hyperkube")], pull=pull)

    assert len(recorder.commands) == 1
    assert recorder.commands[0][:2] == ["docker", "build"]
    assert ("--pull" in recorder.commands[0]) == pull


@pytest.mark.parametrize("variable", ["KUBE_REGISTRY", "FEDERATION_PUSH_REPO_BASE"])
def test_push_refused_hint_names_variable(record_commands, variable):
    record_commands(failing=lambda argv: argv[1] == "push", stderr="dial tcp 127.0.0.1:5001: connect: connection refused")

    with pytest.raises(CommandFailed) as raised:
        ContainerEngine("docker").push("127.0.0.1:5001/f/hyperkube:v1", registry_variable=variable)

    assert raised.value.hint.endswith(f"start the registry or set {variable} to one that runs")


def push_images_job(tmp_path: Path, keep_local_tag: bool = False) -> PushImagesJob:
    binary = tmp_path / "hyperkube"
    binary.write_text("binary")
    return PushImagesJob(
        engine=ContainerEngine("docker"),
        image="127.0.0.1:5001/f/hyperkube:v1",
        repo_base="127.0.0.1:5001/f",
        tag="v1",
        base_image="local/base:1",
        binary=binary,
        tag_file=tmp_path / "federated-image.tag",
        gcloud=GcloudConfig(account="", project="", program=None),
        network="none",
        pull=False,
        keep_local_tag=keep_local_tag,
    )


def test_push_images_failed_push_untags(record_commands, tmp_path):
    recorder = record_commands(failing=lambda argv: argv[1] == "push")
    output = io.StringIO()

    with pytest.raises(StepFailed):
        execute(push_images_steps(push_images_job(tmp_path), Status(output)), Status(output))

    assert recorder.commands[-1] == ["docker", "rmi", "--no-prune", "127.0.0.1:5001/f/hyperkube:v1"]
    assert "Removed the local tag 127.0.0.1:5001/f/hyperkube:v1 because the push failed" in output.getvalue()
    assert not (tmp_path / "federated-image.tag").exists()


def test_push_images_keep_tag_on_failure(record_commands, tmp_path):
    recorder = record_commands(failing=lambda argv: argv[1] == "push")
    output = io.StringIO()

    with pytest.raises(StepFailed):
        execute(push_images_steps(push_images_job(tmp_path, keep_local_tag=True), Status(output)), Status(output))

    assert recorder.commands[-1][:2] == ["docker", "push"]
    assert "Removed the local tag" not in output.getvalue()


def test_kind_cluster_names():
    assert settings.kind_clusters(env_of(KIND_CLUSTERS="a, b c"), []) == ["a", "b", "c"]
    assert settings.kind_clusters(env_of(KIND_CLUSTERS="a"), ["x"]) == ["x"]
    with pytest.raises(InvalidInput):
        settings.kind_clusters(env_of(), ["Bad Name"])


def test_output_root_defaults_under_kube_root(kube_root):
    env = env_of(KUBE_ROOT=str(kube_root.path))

    assert settings.output_root(env) == kube_root.path.resolve() / "_output" / "federation"
    assert settings.output_root(env_of(KUBE_ROOT=str(kube_root.path), OUT_DIR="out")) == kube_root.path.resolve() / "out" / "federation"


def test_kube_root_must_be_source_tree(tmp_path):
    with pytest.raises(InvalidInput) as raised:
        settings.kube_root(env_of(KUBE_ROOT=str(tmp_path)))

    assert "KUBE_ROOT" in raised.value.message
    assert "no Makefile and no cmd" in raised.value.message


def test_unavailable_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception):
        unavailable("no engine")


def test_unavailable_skips_elsewhere(monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception):
        unavailable("no engine")


# The scripts as a user runs them: input errors need no container engine.


def test_develop_without_action_lists_actions():
    result = run(DEVELOP, env={})

    assert result.returncode == 2, result.explain()
    assert "build_binaries, build_image, push" in result.stderr
    assert "deploy_federation" in result.stderr


def test_develop_unknown_action_exits_usage():
    result = run(DEVELOP, "deploy_everything", env={})

    assert result.returncode == 2, result.explain()
    assert "'deploy_everything'" in result.stderr


def test_develop_uppercase_registry_before_effects(kube_root, tmp_path):
    env = {"KUBE_ROOT": str(kube_root.path), "KUBE_REGISTRY": "Localhost:5000/fed", "FEDERATION_OUTPUT_ROOT": str(tmp_path / "out")}

    result = run(DEVELOP, "build_image", env=env)

    assert result.returncode == 3, result.explain()
    assert "KUBE_REGISTRY='Localhost:5000/fed'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_develop_missing_kube_root():
    result = run(DEVELOP, "build_binaries", env={})

    assert result.returncode == 3, result.explain()
    assert "KUBE_ROOT is not set" in result.stderr


def test_develop_dry_run_changes_nothing(kube_root, tmp_path):
    (kube_root.path / "_output/local/bin/linux/amd64").mkdir(parents=True)
    kube_root.hyperkube.write_text("binary")
    env = {
        "KUBE_ROOT": str(kube_root.path),
        "KUBE_REGISTRY": "127.0.0.1:5000/fed",
        "FEDERATION_OUTPUT_ROOT": str(tmp_path / "out"),
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
    }

    result = run(DEVELOP, "build_image", "--dry-run", "-o", "json", env=env)

    assert result.returncode == 0, result.explain()
    plan = json.loads(result.stdout)
    changes = [change for step in plan["steps"] for change in step["changes"]]
    assert changes[0]["target"].startswith("docker build --network=none --tag 127.0.0.1:5000/fed/hyperkube-amd64:v1.5.0-alpha.0 ")
    assert changes[1] == {"action": "write", "target": str(tmp_path / "out" / "versions"), "context": "", "note": '{"KUBE_VERSION": "v1.5.0-alpha.0"}'}
    assert not (tmp_path / "out").exists()


def test_push_dry_run_plans_values_edit(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {"KUBE_VERSION": "v1.4.2", "KUBE_REGISTRY": "127.0.0.1:5000/fed", "FEDERATION_OUTPUT_ROOT": str(out), "CONTAINER_ENGINE": "podman"}

    result = run(DEVELOP, "push", "--dry-run", env=env)

    assert result.returncode == 0, result.explain()
    assert "podman push 127.0.0.1:5000/fed/hyperkube-amd64:v1.4.2" in result.stdout
    assert f"write      {out / 'values.yaml'}" in result.stdout
    assert list(out.iterdir()) == []


def test_push_images_requires_repo_base(kube_root):
    result = run(PUSH_IMAGES, env={"KUBE_ROOT": str(kube_root.path), "KUBERNETES_PROVIDER": "kind"})

    assert result.returncode == 3, result.explain()
    assert "FEDERATION_PUSH_REPO_BASE is not set" in result.stderr
