"""Reading and editing kubeconfig files the way kubectl does.

``KUBECONFIG`` may list several files. kubectl merges them: for each named
cluster, user and context the first file that defines it wins, and the
current context comes from the first file that sets one. Files in the list
that do not exist are skipped. Edits go to the first file of the list,
atomically, with mode 0600 and a backup of the previous content.
"""

from __future__ import annotations

import base64
import copy
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from federation.core.errors import InvalidInput, PreflightFailed
from federation.core.files import SECRET_MODE, atomic_write, exclusive_lock

log = logging.getLogger(__name__)

SECTIONS = ("clusters", "users", "contexts")
_SINGULAR = {"clusters": "cluster", "users": "user", "contexts": "context"}

# Keys holding file paths, and the inline key that replaces each when flattening.
_FILE_KEYS = {
    "cluster": {"certificate-authority": "certificate-authority-data"},
    "user": {"client-certificate": "client-certificate-data", "client-key": "client-key-data", "tokenFile": "token"},
}


def kubeconfig_paths(environ: dict[str, str] | Any) -> list[Path]:
    """Return the files named by ``KUBECONFIG``, or ``~/.kube/config`` when it is unset."""
    raw = environ.get("KUBECONFIG", "") if environ else ""
    if raw.strip():
        return [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]
    return [Path("~/.kube/config").expanduser()]


@dataclass
class Kubeconfig:
    """The merged view of one or more kubeconfig files."""

    paths: list[Path]
    documents: dict[Path, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, paths: list[Path], required: bool = True) -> "Kubeconfig":
        """Parse every existing file of ``paths``; raise ``InvalidInput`` for a malformed one."""
        config = cls(paths)
        for path in paths:
            if not path.exists():
                continue
            if path.is_dir():
                raise InvalidInput(f"KUBECONFIG entry {path} is a directory, not a kubeconfig file", hint="point KUBECONFIG at the file inside it")
            config.documents[path] = _parse(path)

        if required and not config.documents:
            listed = ", ".join(str(path) for path in paths)
            raise PreflightFailed(
                f"no kubeconfig file found (looked at {listed})",
                hint="set KUBECONFIG to the file that holds your cluster's context, or create one with your cluster tooling (kind create cluster, gcloud container clusters get-credentials, ...)",
            )
        return config

    @property
    def current_context(self) -> str:
        for document in self.documents.values():
            if document.get("current-context"):
                return document["current-context"]
        return ""

    def entries(self, section: str) -> dict[str, dict]:
        """Return ``name -> entry`` for one section, first file winning as kubectl merges."""
        merged: dict[str, dict] = {}
        for document in self.documents.values():
            for item in document.get(section) or []:
                if isinstance(item, dict) and item.get("name") and item["name"] not in merged:
                    merged[item["name"]] = item
        return merged

    def contexts(self) -> list[str]:
        return list(self.entries("contexts"))

    def origin(self, section: str, name: str) -> Path | None:
        """Return the file whose entry wins for ``name``."""
        for path, document in self.documents.items():
            if any(isinstance(item, dict) and item.get("name") == name for item in document.get(section) or []):
                return path
        return None

    def resolve_context(self, name: str, variable: str) -> str:
        """Return ``name``, or the current context when empty; raise naming ``variable`` when unknown."""
        context = name or self.current_context
        if not context:
            raise InvalidInput(
                f"{variable} is not set and the kubeconfig has no current context",
                hint=f"set {variable} to one of: {', '.join(self.contexts()) or '(no contexts)'}",
            )
        if context not in self.entries("contexts"):
            raise InvalidInput.variable(
                variable,
                context,
                "is not a context in the kubeconfig" + (f" ({', '.join(str(p) for p in self.documents)})" if self.documents else ""),
                f"set {variable} to one of: {', '.join(self.contexts()) or '(no contexts)'}",
            )
        return context

    def minified(self, context: str, flatten: bool = True) -> dict:
        """Return a one-context kubeconfig, as ``kubectl config view --minify --flatten`` prints."""
        contexts = self.entries("contexts")
        if context not in contexts:
            raise InvalidInput(f"context {context!r} is not in the kubeconfig", hint=f"use one of: {', '.join(contexts) or '(no contexts)'}")
        spec = contexts[context].get("context") or {}
        cluster_name = spec.get("cluster", "")
        user_name = spec.get("user", "")
        cluster = self.entries("clusters").get(cluster_name)
        if cluster is None:
            raise InvalidInput(f"context {context!r} names cluster {cluster_name!r}, which is not in the kubeconfig", hint="fix the context with kubectl config set-context")
        user = self.entries("users").get(user_name, {"name": user_name, "user": {}})

        cluster = copy.deepcopy(cluster)
        user = copy.deepcopy(user)
        if flatten:
            self._inline_files(cluster, "cluster", self.origin("clusters", cluster_name))
            self._inline_files(user, "user", self.origin("users", user_name))

        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [cluster],
            "users": [user] if user_name else [],
            "contexts": [copy.deepcopy(contexts[context])],
            "current-context": context,
        }

    @staticmethod
    def _inline_files(entry: dict, kind: str, origin: Path | None) -> None:
        body = entry.setdefault(kind, {}) or {}
        entry[kind] = body
        for file_key, data_key in _FILE_KEYS[kind].items():
            if not body.get(file_key):
                continue
            path = Path(body.pop(file_key)).expanduser()
            if not path.is_absolute() and origin is not None:
                path = origin.parent / path
            try:
                content = path.read_bytes()
            except OSError as error:
                raise InvalidInput(f"kubeconfig refers to {path}, which cannot be read: {error.strerror}", hint="fix the path in the kubeconfig") from None
            body[data_key] = content.decode().strip() if data_key == "token" else base64.b64encode(content).decode()

    def server(self, context: str) -> str:
        """Return the API server URL of ``context``."""
        cluster = self.minified(context, flatten=False)["clusters"][0]
        return (cluster.get("cluster") or {}).get("server", "")


def _parse(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise InvalidInput(f"kubeconfig {path} is not readable by this user", hint=f"fix its permissions (chmod 600 {path}) or point KUBECONFIG elsewhere") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read kubeconfig {path}: {error}", hint="fix the file or point KUBECONFIG elsewhere") from None

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InvalidInput(f"kubeconfig {path} is not valid YAML{where}", hint="fix the file (kubectl config view shows the same error) or point KUBECONFIG elsewhere") from None

    if document is None:
        return {}
    if not isinstance(document, dict) or any(not isinstance(document.get(key) or [], list) for key in SECTIONS):
        raise InvalidInput(f"kubeconfig {path} is not a kubeconfig (expected a mapping with clusters, users and contexts lists)", hint="fix the file or point KUBECONFIG elsewhere")
    return document


def write_entries(path: Path, cluster: dict, users: list[dict], context: dict) -> None:
    """Add or replace one cluster, its users and one context in ``path``, keeping everything else.

    The current context is left as it is. The file is rewritten atomically
    with mode 0600 after a backup to ``<path>.bak``.
    """
    with exclusive_lock(lock_target(path), "the kubeconfig", wait_seconds=30):
        document = _parse(path) if path.exists() else {}
        document.setdefault("apiVersion", "v1")
        document.setdefault("kind", "Config")
        document.setdefault("preferences", {})
        for section in SECTIONS:
            document[section] = document.get(section) or []

        _upsert(document["clusters"], cluster)
        for user in users:
            _upsert(document["users"], user)
        _upsert(document["contexts"], context)
        document.setdefault("current-context", document.get("current-context") or "")

        _save(path, document)


def remove_entries(config: Kubeconfig, context: str, users: list[str], cluster: str) -> list[Path]:
    """Remove the named context, users and cluster from every file that defines them."""
    changed: list[Path] = []
    for path in list(config.documents):
        with exclusive_lock(lock_target(path), "the kubeconfig", wait_seconds=30):
            document = _parse(path)
            before = yaml.safe_dump(document)
            document["contexts"] = [c for c in document.get("contexts") or [] if c.get("name") != context]
            document["users"] = [u for u in document.get("users") or [] if u.get("name") not in users]
            document["clusters"] = [c for c in document.get("clusters") or [] if c.get("name") != cluster]
            if document.get("current-context") == context:
                document["current-context"] = ""
            if yaml.safe_dump(document) != before:
                _save(path, document)
                changed.append(path)
    return changed


def lock_target(path: Path) -> Path:
    """Return the path whose ``.lock`` side file guards edits of kubeconfig ``path``.

    kubectl creates ``<kubeconfig>.lock`` with O_EXCL for each of its own
    edits and fails while that file exists, so our flock side file, which
    stays on disk, must have another name.
    """
    return Path(f"{path}.federation")


def _upsert(items: list[dict], entry: dict) -> None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == entry["name"]:
            items[index] = entry
            return
    items.append(entry)


def _save(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        backup = Path(f"{path}.bak")
        atomic_write(backup, path.read_bytes(), SECRET_MODE)
    atomic_write(path, yaml.safe_dump(document, default_flow_style=False, sort_keys=False), SECRET_MODE)
    log.debug("wrote kubeconfig %s", path)


