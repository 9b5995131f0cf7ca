"""Kubernetes API calls through the official client, one client per context.

Writes use server-side apply with one field manager, so re-running a job
converges instead of failing on AlreadyExists. Idempotent calls are retried
with bounded backoff on 429, 5xx responses and dropped connections; waits watch
the objects instead of polling, and always end at a deadline.

The ``kubernetes`` package takes about half a second to import, so it is
imported only when the first client is built: ``--help`` and input errors
answer without it.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from federation.core.errors import ClusterError, PreflightFailed, WaitTimeout
from federation.core.kubeconfig import Kubeconfig
from federation.core.resources import Resource, describe, resource_for

log = logging.getLogger(__name__)

FIELD_MANAGER = "federation-scripts"
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})
REQUEST_TIMEOUT = (5.0, 30.0)  # seconds to connect, seconds to read one response


@dataclass
class Backoff:
    """Bounded exponential backoff: at most ``attempts`` tries, ``cap`` seconds between two."""

    attempts: int = 6
    first: float = 0.2
    cap: float = 3.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        for _ in range(self.attempts - 1):
            yield min(delay, self.cap) * (0.8 + 0.4 * random.random())
            delay *= 2


class ApiError(ClusterError):
    """An error response from the API server, with its HTTP status and reason."""

    def __init__(self, status: int, reason: str, message: str, context: str, what: str) -> None:
        super().__init__(f"{what} in context {context!r} failed: {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.api_message = message


class Unreachable(PreflightFailed):
    """The API server of a context did not answer."""


class Cluster:
    """One kubeconfig context and the API client built from it."""

    def __init__(self, kubeconfig: Kubeconfig, context: str, backoff: Backoff | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.server = kubeconfig.server(context)
        self.backoff = backoff or Backoff()
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from kubernetes import config

            self._client = config.new_client_from_config_dict(self.kubeconfig.minified(self.context), context=self.context, persist_config=False)
        return self._client

    # -- raw requests -------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        what: str = "",
        retry: bool = True,
        stream: bool = False,
        timeout: tuple[float, float] = REQUEST_TIMEOUT,
    ) -> Any:
        """Send one request and return the decoded JSON body (or the raw response when streaming)."""
        from urllib3.exceptions import HTTPError as TransportError

        what = what or f"{method} {path}"
        url = self.client.configuration.host.rstrip("/") + path
        if query:
            url += "?" + urlencode({key: value for key, value in query.items() if value is not None})
        headers = {"Accept": "application/json", "Content-Type": content_type}
        # auth_settings() runs the refresh hook of exec and OIDC credentials, the same as generated API calls.
        for auth in self.client.configuration.auth_settings().values():
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        payload = body
        if body is not None and not isinstance(body, (str, bytes)):
            payload = json.dumps(body)

        delays = self.backoff.delays() if retry else iter(())
        while True:
            try:
                response = self.client.rest_client.pool_manager.request(
                    method,
                    url,
                    body=payload,
                    headers=headers,
                    preload_content=not stream,
                    timeout=_urllib3_timeout(timeout),
                    retries=False,
                )
            except TransportError as error:
                # A certificate that does not verify stays so on the next try.
                delay = None if _is_certificate_error(error) else next(delays, None)
                if delay is None:
                    raise Unreachable(
                        f"cannot reach the API server {self.server} of context {self.context!r}: {_transport_reason(error)}",
                        hint="check that the cluster is running and that the context's server address is right (kubectl --context=%s cluster-info)" % self.context,
                    ) from None
                log.info("retrying %s after a connection error: %s", what, _transport_reason(error))
                time.sleep(delay)
                continue

            if response.status < 400:
                if stream:
                    return response
                return json.loads(response.data) if response.data else {}

            status_body = _status_body(response)
            if response.status in RETRIABLE_STATUS:
                delay = next(delays, None)
                if delay is not None:
                    log.info("retrying %s after %s %s", what, response.status, status_body.get("reason", ""))
                    time.sleep(delay)
                    continue
            if stream:
                response.release_conn()
            raise ApiError(response.status, status_body.get("reason") or _reason_phrase(response.status), status_body.get("message", ""), self.context, what)

    # -- objects ------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        """Return the object, or None when it does not exist."""
        resource = resource_for(api_version, kind)
        try:
            return self.request("GET", resource.path(namespace, name), what=f"reading {kind} {name!r}")
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[dict]:
        resource = resource_for(api_version, kind)
        answer = self.request("GET", resource.path(namespace), {"labelSelector": label_selector}, what=f"listing {resource.plural}")
        items = answer.get("items") or []
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(self, obj: dict, dry_run: bool = False) -> tuple[str, dict]:
        """Server-side apply ``obj``; return ``created`` or ``configured`` and the object the server stored."""
        resource = resource_for(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        query = {"fieldManager": FIELD_MANAGER, "force": "true", "dryRun": "All" if dry_run else None}
        path = resource.path(metadata.get("namespace"), metadata["name"])
        # Streaming keeps the response object, whose status distinguishes created (201) from configured (200).
        response = self.request("PATCH", path, query, obj, "application/apply-patch+yaml", what=f"applying {describe(obj)}", stream=True)
        try:
            stored = json.loads(response.data)
        finally:
            response.release_conn()
        outcome = "created" if response.status == 201 else "configured"
        return outcome, stored

    def replace(self, obj: dict) -> dict:
        """PUT ``obj``; the server rejects it with 409 when its resourceVersion is stale."""
        resource = resource_for(obj["apiVersion"], obj["kind"])
        metadata = obj["metadata"]
        return self.request("PUT", resource.path(metadata.get("namespace"), metadata["name"]), body=obj, what=f"updating {describe(obj)}")

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, dry_run: bool = False) -> bool:
        """Delete one object; return False when it was already gone."""
        resource = resource_for(api_version, kind)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        query = {"dryRun": "All" if dry_run else None}
        try:
            self.request("DELETE", resource.path(namespace, name), query, body, what=f"deleting {kind} {name!r}")
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    # -- waiting ------------------------------------------------------------

    def wait(
        self,
        resource: Resource,
        namespace: str | None,
        check: Callable[[dict[str, dict]], tuple[bool, str]],
        deadline: float,
        label_selector: str | None = None,
        field_selector: str | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> dict[str, dict]:
        """Watch the matching objects until ``check`` reports done or ``deadline`` passes.

        ``check`` gets the current objects by name and returns ``(done, state)``;
        the last state is reported on timeout. A watch without a
        resourceVersion starts with the current objects as ADDED events, so
        each wait costs one request unless the stream breaks.
        """
        objects: dict[str, dict] = {}
        state = "no answer from the API server yet"
        version: str | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"timed out: {state}")

            query = {
                "watch": "1",
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "resourceVersion": version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": str(max(1, int(remaining))),
            }
            try:
                response = self.request("GET", resource.path(namespace), query, what=f"watching {resource.plural}", stream=True, timeout=(5.0, remaining + 5))
            except Unreachable as error:
                state = error.message
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                continue

            try:
                for event in _events(response):
                    kind = event.get("type")
                    item = event.get("object") or {}
                    if kind == "ERROR":
                        # 410 Gone: the resourceVersion is too old; start over from the current state.
                        version = None
                        objects.clear()
                        break
                    version = (item.get("metadata") or {}).get("resourceVersion") or version
                    if kind == "BOOKMARK":
                        continue
                    name = (item.get("metadata") or {}).get("name", "")
                    if kind == "DELETED":
                        objects.pop(name, None)
                    else:
                        objects[name] = item
                    done, new_state = check(objects)
                    if new_state != state and on_change:
                        on_change(new_state)
                    state = new_state
                    if done:
                        return objects
                    if time.monotonic() >= deadline:
                        break
            except Exception as error:  # noqa: BLE001  (a dropped stream is retried until the deadline)
                if not _is_transport_error(error):
                    raise
                log.info("watch of %s interrupted, resuming: %s", resource.plural, error)
            finally:
                response.release_conn()

            if not objects:
                done, new_state = check(objects)
                state = new_state
                if done:
                    return objects


def _events(response: Any) -> Iterator[dict]:
    buffer = b""
    for chunk in response.stream(4096, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)


def _status_body(response: Any) -> dict:
    try:
        body = json.loads(response.data)
    except (ValueError, TypeError):
        return {"message": (response.data or b"").decode(errors="replace")[:200]}
    return body if isinstance(body, dict) else {}


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _transport_reason(error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    # urllib3 wraps the useful part ("Connection refused") in object reprs.
    for marker in ("Connection refused", "Name or service not known", "timed out", "CERTIFICATE_VERIFY_FAILED", "Connection reset", "Remote end closed"):
        if marker in text:
            if marker == "CERTIFICATE_VERIFY_FAILED":
                return "TLS certificate verification failed (the server's certificate is not signed by the CA in the kubeconfig, or does not cover its address)"
            return marker.lower()
    return text


def _is_certificate_error(error: Exception) -> bool:
    return "CERTIFICATE_VERIFY_FAILED" in str(getattr(error, "reason", None) or error)


def _is_transport_error(error: Exception) -> bool:
    from urllib3.exceptions import HTTPError as TransportError

    return isinstance(error, (TransportError, ConnectionError, TimeoutError))


def _urllib3_timeout(timeout: tuple[float, float]) -> Any:
    from urllib3 import Timeout

    return Timeout(connect=timeout[0], read=timeout[1])
