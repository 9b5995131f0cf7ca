"""Decoder for Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).

kubectl 1.37 sends typed `create namespace|secret|configmap` requests as
protobuf: the 4-byte magic `k8s\\x00` followed by a runtime.Unknown message
whose `raw` field contains the object. This module decodes those kinds (and
ServiceAccount) into the JSON form; other kinds are rejected with 415.

Field numbers come from k8s.io/api/core/v1/generated.proto and
k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any, Callable

from . import errors

MAGIC = b"k8s\x00"

# Wire types of the protobuf encoding.
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class DecodeError(ValueError):
    pass


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if offset >= len(data):
            raise DecodeError("truncated varint")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7
        if shift > 63:
            raise DecodeError("varint longer than 64 bits")


def fields(data: bytes) -> list[tuple[int, int, Any]]:
    """Split a message into (field number, wire type, value) in wire order."""
    result = []
    offset = 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, offset = _varint(data, offset)
        elif wire_type == LENGTH_DELIMITED:
            length, offset = _varint(data, offset)
            if offset + length > len(data):
                raise DecodeError(f"field {number} is truncated")
            value = data[offset:offset + length]
            offset += length
        elif wire_type == FIXED64:
            value = data[offset:offset + 8]
            offset += 8
        elif wire_type == FIXED32:
            value = data[offset:offset + 4]
            offset += 4
        else:
            raise DecodeError(f"unsupported wire type {wire_type} in field {number}")
        result.append((number, wire_type, value))
    return result


# A schema maps a field number to (JSON name, decoder, repeated).
Schema = dict[int, tuple[str, Callable[[Any], Any], bool]]


def _string(value: bytes) -> str:
    return value.decode("utf-8")


def _bytes_b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _bool(value: int) -> bool:
    return bool(value)


def _int(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _map(value_decoder: Callable[[Any], Any]) -> Callable[[bytes], tuple[str, Any]]:
    def decode_entry(entry: bytes) -> tuple[str, Any]:
        key, value = "", value_decoder(b"") if value_decoder is not _bool else False
        for number, _, raw in fields(entry):
            if number == 1:
                key = _string(raw)
            elif number == 2:
                value = value_decoder(raw)
        return key, value
    decode_entry.is_map = True  # type: ignore[attr-defined]
    return decode_entry


def _time(value: bytes) -> str:
    seconds = 0
    for number, _, raw in fields(value):
        if number == 1:
            seconds = _int(raw)
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(schema: Schema) -> Callable[[bytes], dict[str, Any]]:
    def decode(data: bytes) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for number, _, raw in fields(data):
            if number not in schema:
                continue
            name, decoder, repeated = schema[number]
            value = decoder(raw)
            # Go writes zero values of non-pointer fields; JSON omits them (omitempty).
            if not repeated and value in ("", 0, False) and not isinstance(value, dict):
                continue
            if getattr(decoder, "is_map", False):
                result.setdefault(name, {})[value[0]] = value[1]
            elif repeated:
                result.setdefault(name, []).append(value)
            else:
                result[name] = value
        return result
    return decode


_OWNER_REFERENCE: Schema = {
    1: ("kind", _string, False), 3: ("name", _string, False), 4: ("uid", _string, False),
    5: ("apiVersion", _string, False), 6: ("controller", _bool, False), 7: ("blockOwnerDeletion", _bool, False),
}

_OBJECT_META: Schema = {
    1: ("name", _string, False),
    2: ("generateName", _string, False),
    3: ("namespace", _string, False),
    5: ("uid", _string, False),
    6: ("resourceVersion", _string, False),
    7: ("generation", _int, False),
    8: ("creationTimestamp", _time, False),
    11: ("labels", _map(_string), False),
    12: ("annotations", _map(_string), False),
    13: ("ownerReferences", _message(_OWNER_REFERENCE), True),
    14: ("finalizers", _string, True),
}

_METADATA = (("metadata", _message(_OBJECT_META), False))
_LOCAL_OBJECT_REFERENCE: Schema = {1: ("name", _string, False)}
_OBJECT_REFERENCE: Schema = {
    1: ("kind", _string, False), 2: ("namespace", _string, False), 3: ("name", _string, False),
    4: ("uid", _string, False), 5: ("apiVersion", _string, False),
}

KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Namespace"): {
        1: _METADATA,
        2: ("spec", _message({1: ("finalizers", _string, True)}), False),
        3: ("status", _message({1: ("phase", _string, False)}), False),
    },
    ("v1", "Secret"): {
        1: _METADATA,
        2: ("data", _map(_bytes_b64), False),
        3: ("type", _string, False),
        4: ("stringData", _map(_string), False),
        5: ("immutable", _bool, False),
    },
    ("v1", "ConfigMap"): {
        1: _METADATA,
        2: ("data", _map(_string), False),
        3: ("binaryData", _map(_bytes_b64), False),
        4: ("immutable", _bool, False),
    },
    ("v1", "ServiceAccount"): {
        1: _METADATA,
        2: ("secrets", _message(_OBJECT_REFERENCE), True),
        3: ("imagePullSecrets", _message(_LOCAL_OBJECT_REFERENCE), True),
        4: ("automountServiceAccountToken", _bool, False),
    },
}

_TYPE_META: Schema = {1: ("apiVersion", _string, False), 2: ("kind", _string, False)}
_UNKNOWN: Schema = {
    1: ("typeMeta", _message(_TYPE_META), False),
    2: ("raw", lambda b: b, False),
    3: ("contentEncoding", _string, False),
    4: ("contentType", _string, False),
}


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a protobuf-encoded object into its JSON form."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("the protobuf body does not start with the k8s\\x00 magic prefix")
    try:
        envelope = _message(_UNKNOWN)(body[len(MAGIC):])
        type_meta = envelope.get("typeMeta") or {}
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        schema = KINDS.get((api_version, kind))
        if schema is None:
            raise errors.StatusError(
                415, "UnsupportedMediaType",
                f"kubesim decodes protobuf only for {', '.join(k for _, k in KINDS)}, not {api_version} {kind}; "
                f"send application/json instead")
        obj = _message(schema)(envelope.get("raw", b""))
    except DecodeError as exc:
        raise errors.bad_request(f"invalid protobuf body: {exc}") from exc
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    obj.setdefault("metadata", {})
    return obj
