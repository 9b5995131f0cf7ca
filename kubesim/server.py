"""The HTTP side of a simulated API server: routing, CRUD, patch, apply and watch.

One `ApiServer` serves one store. The main cluster API and each emulated
federation API server are both instances of it with different resource sets.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

import yaml
from aiohttp import web

from . import apply, discovery, errors, patch, protobuf, tables
from .auth import Authenticator
from .faults import Faults
from .resources import ResourceRegistry, ResourceType
from .selectors import parse_field_selector, parse_label_selector
from .store import Store, WatchEvent
from .waiting import TIMED_OUT, get_item

log = logging.getLogger("kubesim.server")

JSON = "application/json"
# How often an idle watch sends a BOOKMARK when the client allows bookmarks.
BOOKMARK_INTERVAL = 5.0
DEFAULT_WATCH_TIMEOUT = 1800.0


@dataclass
class Route:
    """A parsed resource URL."""

    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass
class ApiServer:
    """Routes requests for one store; optional faults and counters apply to every request."""

    name: str
    store: Store
    authenticator: Authenticator
    faults: Faults | None = None
    requests: collections.Counter | None = None
    server_address: Callable[[], str] = lambda: "127.0.0.1:0"
    health_check: Callable[[], bool] = lambda: True

    @property
    def registry(self) -> ResourceRegistry:
        return self.store.registry

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # Entry point.

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults is not None:
            decision = self.faults.decide()
            if decision.delay:
                await asyncio.sleep(decision.delay)
            if decision.reset:
                log.info("%s: fault injection resets the connection of %s %s", self.name, request.method,
                         request.path)
                if request.transport is not None:
                    request.transport.abort()
                raise ConnectionResetError("connection reset by kubesim fault injection")
            if decision.fail_status is not None:
                self._count(request)
                reason = "ServiceUnavailable" if decision.fail_status == 503 else "InternalError"
                return self._status_response(errors.StatusError(
                    decision.fail_status, reason, f"kubesim fault injection: simulated {decision.fail_status}"))

        self._count(request)
        try:
            if not self.authenticator.authenticate(request):
                raise errors.unauthorized()
            return await self._dispatch(request)
        except errors.StatusError as exc:
            if exc.code >= 500:
                log.error("%s: %s %s failed: %s", self.name, request.method, request.path_qs, exc.message)
            return self._status_response(exc)

    def _count(self, request: web.Request) -> None:
        if self.requests is None:
            return
        try:
            route = self._parse(request.path)
        except errors.StatusError:
            route = None
        if not isinstance(route, Route):
            return
        self.requests[(_verb(request, route), route.resource.plural)] += 1

    @staticmethod
    def _status_response(exc: errors.StatusError) -> web.Response:
        return web.json_response(exc.status(), status=exc.code)

    # Routing.

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz"):
            if not self.health_check():
                return web.Response(text="not ready", status=500)
            if "verbose" in request.query:
                return web.Response(text=f"[+]ping ok\n{path[1:]} check passed\n")
            return web.Response(text="ok")
        if path == "/version":
            return web.json_response(discovery.VERSION_INFO)
        if path in ("/api", "/apis") or path.startswith("/openapi"):
            return self._discovery(request, path)

        route = self._parse(path)
        if isinstance(route, web.StreamResponse):
            return route
        return await self._serve_resource(request, route)

    def _discovery(self, request: web.Request, path: str) -> web.Response:
        accept = request.headers.get("Accept", "")
        if path in ("/api", "/apis"):
            legacy = path == "/api"
            if discovery.wants_aggregated(accept):
                body = discovery.aggregated_discovery(self.registry, legacy)
                return web.Response(text=json.dumps(body), headers={
                    "Content-Type": discovery.AGGREGATED_DISCOVERY_TYPE})
            if legacy:
                return web.json_response(discovery.api_versions(self.server_address()))
            return web.json_response(discovery.api_group_list(self.registry))

        if path == "/openapi/v3":
            return web.json_response(discovery.openapi_v3_root(self.registry))
        if path.startswith("/openapi/v3/"):
            parts = path[len("/openapi/v3/"):].split("/")
            group, version = ("", parts[1]) if parts[0] == "api" and len(parts) == 2 else \
                (parts[1], parts[2]) if parts[0] == "apis" and len(parts) == 3 else (None, None)
            if group is not None:
                document = discovery.openapi_v3_document(self.registry, group, version)
                if document is not None:
                    return web.json_response(document)
        # NOTE: /openapi/v2 is not served, so kubectl falls back to its compiled-in
        # types for strategic merge patches and `kubectl explain` does not work.
        raise errors.StatusError(404, "NotFound", f"the server could not find the requested resource ({path})")

    def _parse(self, path: str) -> Route | web.Response:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
            if parts[1] != "v1":
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        elif len(parts) >= 2 and parts[0] == "apis":
            if len(parts) == 2:
                body = discovery.api_group(self.registry, parts[1])
                if body is None:
                    raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
                return web.json_response(body)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")

        if not rest:
            body = discovery.api_resource_list(self.registry, group, version)
            if body is None:
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
            return web.json_response(body)

        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = self.registry.by_path(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]

        resource = self.registry.by_path(group, version, rest[0])
        if resource is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource and subresource not in resource.subresources:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        if len(rest) > 3:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        return Route(resource, namespace, name, subresource)

    # Resource handlers.

    async def _serve_resource(self, request: web.Request, route: Route) -> web.StreamResponse:
        method = request.method
        query = request.query
        dry_run = query.get("dryRun") == "All"

        if method == "GET":
            if route.name is None:
                if query.get("watch") in ("true", "1"):
                    return await self._watch(request, route)
                return self._list(request, route)
            return self._get(request, route)
        if method == "POST" and route.name is None:
            return await self._create(request, route, dry_run)
        if method == "PUT" and route.name is not None:
            return await self._replace(request, route, dry_run)
        if method == "PATCH" and route.name is not None:
            return await self._patch(request, route, dry_run)
        if method == "DELETE":
            if route.name is None:
                return await self._delete_collection(request, route, dry_run)
            return await self._delete(request, route, dry_run)
        raise errors.method_not_allowed(f"the server does not allow this method on the requested resource ({method})")

    def _respond(self, request: web.Request, obj: dict[str, Any], status: int = 200,
                 resource: ResourceType | None = None) -> web.Response:
        accept = request.headers.get("Accept", "")
        if resource is not None and tables.wants_table(accept) and obj.get("kind") == resource.kind:
            table = tables.to_table([obj], resource.kind, {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                    request.query.get("includeObject", "PartialObjectMetadata"))
            return web.json_response(table, status=status)
        return web.json_response(obj, status=status)

    def _get(self, request: web.Request, route: Route) -> web.Response:
        obj = self.store.get(route.resource, route.namespace, route.name or "")
        if route.subresource == "scale":
            return web.json_response(_scale_of(route.resource, obj))
        return self._respond(request, obj, resource=route.resource)

    def _predicate(self, request: web.Request) -> Callable[[dict[str, Any]], bool]:
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"))
        return lambda obj: labels(obj) and fields(obj)

    def _list(self, request: web.Request, route: Route) -> web.Response:
        items, version = self.store.list(route.resource, route.namespace, self._predicate(request))
        list_meta = {"resourceVersion": str(version)}
        # NOTE: `limit` is ignored; every list returns all items with no continue token.
        if tables.wants_table(request.headers.get("Accept", "")):
            return web.json_response(tables.to_table(
                items, route.resource.kind, list_meta, request.query.get("includeObject", "PartialObjectMetadata")))
        return web.json_response({
            "kind": route.resource.list_kind, "apiVersion": route.resource.api_version,
            "metadata": list_meta, "items": items})

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        content_type = request.content_type
        if content_type == "application/vnd.kubernetes.protobuf":
            return protobuf.decode_object(raw)
        if not raw:
            return {}
        try:
            if content_type == "application/apply-patch+yaml" or content_type.endswith("yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the request body is not valid {content_type}: {exc}") from exc

    def _manager(self, request: web.Request) -> str:
        manager = request.query.get("fieldManager")
        if manager:
            return manager
        agent = request.headers.get("User-Agent", "unknown")
        return agent.split("/", 1)[0] or "unknown"

    async def _create(self, request: web.Request, route: Route, dry_run: bool) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        _check_kind(route.resource, body)
        if route.namespace is not None and self.store.namespace_phase(route.namespace) is None:
            raise errors.not_found("", "namespaces", route.namespace)
        body.setdefault("metadata", {})
        body["apiVersion"] = route.resource.api_version
        body["kind"] = route.resource.kind
        body["metadata"].pop("managedFields", None)
        apply.track_update(None, body, self._manager(request))
        created = self.store.create(route.resource, route.namespace, body, dry_run=dry_run)
        return self._respond(request, created, 201, route.resource)

    async def _replace(self, request: web.Request, route: Route, dry_run: bool) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        old = self.store.get(route.resource, route.namespace, route.name or "")

        if route.subresource == "scale":
            return await self._write_scale(request, route, old, body.get("spec") or {}, dry_run, body)

        _check_kind(route.resource, body)
        body.setdefault("metadata", {})
        if route.subresource == "finalize":
            new = copy.deepcopy(old)
            new["spec"] = body.get("spec", {})
            body = new
        if "managedFields" not in body["metadata"]:
            body["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
        body["apiVersion"] = route.resource.api_version
        apply.track_update(old, body, self._manager(request), route.subresource if route.subresource == "status" else None)
        subresource = "status" if route.subresource == "status" else None
        updated = self.store.update(route.resource, route.namespace, route.name or "", body,
                                    subresource=subresource, dry_run=dry_run)
        return self._respond(request, updated, resource=route.resource)

    async def _patch(self, request: web.Request, route: Route, dry_run: bool) -> web.Response:
        content_type = request.content_type
        body = await self._body(request)
        manager = request.query.get("fieldManager")
        resource = route.resource
        old = self.store.try_get(resource, route.namespace, route.name or "")

        if content_type == "application/apply-patch+yaml":
            return await self._server_side_apply(request, route, old, body, dry_run)
        if old is None:
            raise errors.not_found(resource.group, resource.plural, route.name or "")

        base = _scale_of(resource, old) if route.subresource == "scale" else old
        if content_type == "application/merge-patch+json":
            patched = patch.json_merge_patch(base, body)
        elif content_type == "application/strategic-merge-patch+json":
            patched = patch.strategic_merge_patch(base, body)
        elif content_type == "application/json-patch+json":
            if not isinstance(body, list):
                raise errors.bad_request("a JSON patch must be a JSON array of operations")
            patched = patch.json_patch(base, body)
        else:
            raise errors.StatusError(415, "UnsupportedMediaType",
                                     f"the body of the request was in an unknown format - accepted media types "
                                     f"include: application/json-patch+json, application/merge-patch+json, "
                                     f"application/apply-patch+yaml, application/strategic-merge-patch+json "
                                     f"(got {content_type})")

        if route.subresource == "scale":
            return await self._write_scale(request, route, old, patched.get("spec") or {}, dry_run, patched)

        if not isinstance(patched, dict):
            raise errors.bad_request("the patch result is not an object")
        patched.setdefault("metadata", {})
        patched["apiVersion"] = resource.api_version
        patched["kind"] = resource.kind
        subresource = "status" if route.subresource == "status" else None
        apply.track_update(old, patched, manager or self._manager(request), subresource)
        updated = self.store.update(resource, route.namespace, route.name or "", patched,
                                    subresource=subresource, dry_run=dry_run)
        return self._respond(request, updated, resource=resource)

    async def _server_side_apply(self, request: web.Request, route: Route, old: dict[str, Any] | None,
                                 config: Any, dry_run: bool) -> web.Response:
        resource = route.resource
        manager = request.query.get("fieldManager")
        if not manager:
            raise errors.bad_request("PATCH request of type apply requires the fieldManager parameter")
        if not isinstance(config, dict):
            raise errors.bad_request("the applied configuration must be an object")
        _check_kind(resource, config)
        metadata = config.get("metadata") or {}
        if metadata.get("name") and metadata["name"] != route.name:
            raise errors.bad_request(
                f'the name of the object ({metadata["name"]}) does not match the name on the URL ({route.name})')
        config.setdefault("metadata", {})["name"] = route.name
        force = request.query.get("force") in ("true", "1")
        subresource = "status" if route.subresource == "status" else None

        merged = apply.server_side_apply(old, config, manager, force, resource.group, resource.plural, subresource)
        merged["apiVersion"] = resource.api_version
        merged["kind"] = resource.kind
        if old is None:
            created = self.store.create(resource, route.namespace, merged, dry_run=dry_run)
            return self._respond(request, created, 201, resource)
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        updated = self.store.update(resource, route.namespace, route.name or "", merged,
                                    subresource=subresource, dry_run=dry_run)
        return self._respond(request, updated, resource=resource)

    async def _write_scale(self, request: web.Request, route: Route, old: dict[str, Any], scale_spec: dict[str, Any],
                           dry_run: bool, scale: dict[str, Any]) -> web.Response:
        wanted_version = (scale.get("metadata") or {}).get("resourceVersion")
        if wanted_version and wanted_version != old["metadata"]["resourceVersion"]:
            raise errors.conflict(route.resource.group, route.resource.plural, route.name or "",
                                  "the object has been modified; please apply your changes to the latest "
                                  "version and try again")
        new = copy.deepcopy(old)
        if "replicas" in scale_spec:
            new.setdefault("spec", {})["replicas"] = int(scale_spec["replicas"])
        apply.track_update(old, new, self._manager(request), "scale")
        updated = self.store.update(route.resource, route.namespace, route.name or "", new, dry_run=dry_run)
        return web.json_response(_scale_of(route.resource, updated))

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.can_read_body:
            body = await self._body(request)
            if isinstance(body, dict):
                options = body
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        if "dryRun" in request.query:
            options["dryRun"] = request.query.getall("dryRun")
        return options

    async def _delete(self, request: web.Request, route: Route, dry_run: bool) -> web.Response:
        options = await self._delete_options(request)
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        result = delete_with_propagation(self.store, route.resource, route.namespace, route.name or "",
                                         options.get("propagationPolicy"), dry_run, options.get("preconditions"))
        if result["metadata"].get("deletionTimestamp") or route.resource.kind == "Namespace":
            return self._respond(request, result, resource=route.resource)
        return web.json_response({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": route.name, "group": route.resource.group, "kind": route.resource.plural,
                        "uid": result["metadata"].get("uid")}})

    async def _delete_collection(self, request: web.Request, route: Route, dry_run: bool) -> web.Response:
        options = await self._delete_options(request)
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        items, version = self.store.list(route.resource, route.namespace, self._predicate(request))
        deleted = []
        for item in items:
            meta = item["metadata"]
            try:
                deleted.append(delete_with_propagation(
                    self.store, route.resource, meta.get("namespace"), meta["name"],
                    options.get("propagationPolicy"), dry_run, None))
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
        return web.json_response({"kind": route.resource.list_kind, "apiVersion": route.resource.api_version,
                                  "metadata": {"resourceVersion": str(self.store.resource_version)},
                                  "items": deleted})

    # Watch.

    async def _watch(self, request: web.Request, route: Route) -> web.StreamResponse:
        query = request.query
        predicate = self._predicate(request)
        requested = query.get("resourceVersion", "")
        send_initial = query.get("sendInitialEvents") == "true"
        bookmarks = query.get("allowWatchBookmarks") == "true"
        timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        as_table = tables.wants_table(request.headers.get("Accept", ""))

        initial: list[dict[str, Any]] = []
        if send_initial or requested in ("", "0"):
            with self.store._lock:
                initial, version = self.store.list(route.resource, route.namespace, predicate)
                watcher, backlog = self.store.watch(route.resource, route.namespace, version)
        else:
            try:
                since = int(requested)
            except ValueError as exc:
                raise errors.bad_request(f'invalid resourceVersion "{requested}"') from exc
            watcher, backlog = self.store.watch(route.resource, route.namespace, since)
            version = since

        response = web.StreamResponse(headers={"Content-Type": JSON, "Cache-Control": "no-cache"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_version = version

        async def send(event_type: str, obj: dict[str, Any]) -> None:
            if as_table and event_type != "BOOKMARK":
                obj = tables.to_table([obj], route.resource.kind, {"resourceVersion": obj["metadata"].get(
                    "resourceVersion", "")}, query.get("includeObject", "PartialObjectMetadata"))
            await response.write(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")

        def bookmark(resource_version: int, initial_end: bool = False) -> dict[str, Any]:
            meta: dict[str, Any] = {"resourceVersion": str(resource_version)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return {"kind": route.resource.kind, "apiVersion": route.resource.api_version, "metadata": meta}

        try:
            for obj in initial:
                await send("ADDED", obj)
            if send_initial:
                await send("BOOKMARK", bookmark(version, initial_end=True))
            for event in backlog:
                last_version = event.resource_version
                await self._send_event(send, event, predicate)

            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                event = await get_item(watcher.queue, min(remaining, BOOKMARK_INTERVAL))
                if event is TIMED_OUT:
                    if bookmarks:
                        await send("BOOKMARK", bookmark(max(last_version, self.store.resource_version)))
                    continue
                last_version = event.resource_version
                await self._send_event(send, event, predicate)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.close()
        return response

    @staticmethod
    async def _send_event(send: Callable, event: WatchEvent, predicate: Callable[[dict[str, Any]], bool]) -> None:
        matches_now = predicate(event.object)
        matched_before = event.old_object is not None and predicate(event.old_object)
        if event.type == "MODIFIED":
            if matches_now:
                await send("MODIFIED" if matched_before else "ADDED", event.object)
            elif matched_before:
                await send("DELETED", event.object)
            return
        if matches_now:
            await send(event.type, event.object)


def _verb(request: web.Request, route: Route) -> str:
    method = request.method
    if method == "GET":
        if route.name is None:
            return "watch" if request.query.get("watch") in ("true", "1") else "list"
        return "get"
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def _check_kind(resource: ResourceType, body: dict[str, Any]) -> None:
    kind = body.get("kind")
    if kind and kind != resource.kind:
        raise errors.bad_request(f"the body kind {kind} does not match the resource {resource.plural} ({resource.kind})")


def _scale_of(resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    if "scale" not in resource.subresources:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector") or {}
    if isinstance(selector, dict) and "matchLabels" in selector:
        selector = selector["matchLabels"]
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                   "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))},
    }


def delete_with_propagation(store: Store, resource: ResourceType, namespace: str | None, name: str,
                            policy: str | None, dry_run: bool,
                            preconditions: dict[str, Any] | None) -> dict[str, Any]:
    """Delete an object and handle its dependents by ownerReferences.

    Orphan removes the owner reference from dependents. Background and
    Foreground both delete dependents right away, because kubesim has no
    separate garbage collector delay.
    """
    target = store.get(resource, namespace, name)
    uid = target["metadata"]["uid"]
    if not dry_run:
        for dependent_resource, dependent in _dependents(store, uid):
            meta = dependent["metadata"]
            if policy == "Orphan":
                dependent["metadata"]["ownerReferences"] = [
                    r for r in meta.get("ownerReferences", []) if r.get("uid") != uid]
                store.update(dependent_resource, meta.get("namespace"), meta["name"], dependent)
            else:
                try:
                    delete_with_propagation(store, dependent_resource, meta.get("namespace"), meta["name"],
                                            "Background", False, None)
                except errors.StatusError as exc:
                    if exc.code != 404:
                        raise
    return store.delete(resource, namespace, name, dry_run=dry_run, preconditions=preconditions)


def _dependents(store: Store, owner_uid: str) -> list[tuple[ResourceType, dict[str, Any]]]:
    found = []
    for resource in store.registry.types:
        items, _ = store.list(resource, None, lambda o: any(
            r.get("uid") == owner_uid for r in (o.get("metadata") or {}).get("ownerReferences") or []))
        found += [(resource, item) for item in items]
    return found
