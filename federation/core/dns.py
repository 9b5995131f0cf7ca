"""Edits to a member cluster's DNS configuration, as pure functions of text.

Three forms exist, by what runs in the member:

- CoreDNS reads only its Corefile (ConfigMap ``kube-system/coredns``), so
  joining adds one server block for the federation's zone between two marker
  comment lines, and unjoining removes exactly those lines again.
- kube-dns 1.9 or later (Kubernetes 1.5 and later) reads the ``federations``
  key of ConfigMap ``kube-system/kube-dns``: ``name=zone[,name2=zone2]``.
- older kube-dns reads the same map from its ``--federations`` flag.

Nothing here talks to a cluster; ``federation.core.registration`` reads the
objects, calls these functions and writes the results.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from federation.core.errors import InvalidInput

# Providers whose zones live in a public DNS service, so the member's upstream
# resolvers (from the node's /etc/resolv.conf) already answer for them.
PUBLIC_PROVIDERS = frozenset({"google-clouddns", "aws-route53"})
DEFAULT_UPSTREAM = "/etc/resolv.conf"


# -- CoreDNS Corefile ---------------------------------------------------------


def begin_marker(federation: str) -> str:
    return f"# BEGIN federation {federation}"


def end_marker(federation: str) -> str:
    return f"# END federation {federation}"


@dataclass(frozen=True)
class ServerBlock:
    """One top-level server block of a Corefile: its keys (``zone:port``) and first line number."""

    keys: tuple[str, ...]
    line: int


def corefile_block(federation: str, zone: str, provider: str, nameservers: Iterable[str] = ()) -> str:
    """Build the marked server block that serves ``zone`` for one federation.

    With nameservers (the provider's ``coredns-endpoints``) the block forwards
    the zone to them. Without them the zone is public (Cloud DNS, Route 53) or
    the provider gave no endpoints, and the block forwards to the node's
    resolvers, which answer for a public zone.
    """
    nameservers = [validate_nameserver(server) for server in nameservers]
    zone = zone.rstrip(".")

    if nameservers:
        upstream = " ".join(nameservers)
        reason = f"# The {provider} provider serves {zone}; its nameservers answer for the zone."
    else:
        upstream = DEFAULT_UPSTREAM
        if provider in PUBLIC_PROVIDERS:
            reason = f"# {zone} is a public zone in {provider}, so the node's resolvers answer for it."
        else:
            reason = f"# No nameservers were configured for the {provider} provider, so {zone} goes to the node's resolvers."

    lines = [
        begin_marker(federation),
        reason,
        f"{zone}:53 {{",
        "    errors",
        "    cache 30",
        f"    forward . {upstream}",
        "}",
        end_marker(federation),
    ]
    return "\n".join(lines) + "\n"


def add_corefile_block(corefile: str, federation: str, zone: str, provider: str, nameservers: Iterable[str] = ()) -> str:
    """Return ``corefile`` with this federation's block added, or replaced in place if present.

    The block is appended as ``"\\n" + block``, and ``remove_corefile_block``
    deletes exactly that text, so add then remove gives back the input byte
    for byte. Raises ``InvalidInput`` for an unbalanced Corefile, damaged
    markers, or another server block that already serves the zone.
    """
    block = corefile_block(federation, zone, provider, nameservers)
    parse_server_blocks(corefile)
    span = _marked_span(corefile, federation)

    outside = corefile if span is None else corefile[: span[0]] + corefile[span[1] :]
    zone_key = _zone_key(zone)
    for server in parse_server_blocks(outside):
        if zone_key in (_zone_key(key) for key in server.keys):
            raise InvalidInput(
                f"the Corefile already has a server block for {zone.rstrip('.')} at line {server.line}, outside the block of federation {federation!r}",
                hint="remove that server block from ConfigMap kube-system/coredns, or use another zone (--dns-zone-name)",
            )

    if span is None:
        return corefile + "\n" + block
    return corefile[: span[0]] + "\n" + block + corefile[span[1] :]


def remove_corefile_block(corefile: str, federation: str) -> str:
    """Return ``corefile`` without this federation's block; unchanged when it has none."""
    parse_server_blocks(corefile)
    span = _marked_span(corefile, federation)
    if span is None:
        return corefile
    return corefile[: span[0]] + corefile[span[1] :]


def has_corefile_block(corefile: str, federation: str) -> bool:
    return _marked_span(corefile, federation) is not None


def _marked_span(corefile: str, federation: str) -> tuple[int, int] | None:
    """Return the start and end offsets of the block's text, including the newline before it."""
    begin = begin_marker(federation)
    end = end_marker(federation)
    lines = corefile.splitlines(keepends=True)

    begins = [index for index, line in enumerate(lines) if line.rstrip("\r\n").rstrip() == begin]
    ends = [index for index, line in enumerate(lines) if line.rstrip("\r\n").rstrip() == end]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise InvalidInput(
            f"the Corefile has damaged markers for federation {federation!r}: {len(begins)} {begin!r} and {len(ends)} {end!r} lines",
            hint=f"edit ConfigMap kube-system/coredns so that it has one {begin!r} line followed by one {end!r} line, or neither",
        )

    start = sum(len(line) for line in lines[: begins[0]])
    stop = sum(len(line) for line in lines[: ends[0] + 1])
    # The newline that ends the previous line belongs to the block (add_corefile_block put it there).
    if start > 0 and corefile[start - 1] == "\n":
        start -= 1
    return start, stop


def parse_server_blocks(corefile: str) -> list[ServerBlock]:
    """Return the top-level server blocks; raise ``InvalidInput`` for unbalanced braces or quotes.

    This reads the Caddyfile syntax CoreDNS uses: ``#`` starts a comment at
    the start of a token, double quotes group a token, and ``{`` and ``}``
    open and close blocks. Snippet definitions (``(name) {``) are skipped.
    """
    blocks: list[ServerBlock] = []
    depth = 0
    keys: list[str] = []
    first_line = 0

    for token, line in _tokens(corefile):
        if token == "{":
            if depth == 0:
                if not keys:
                    raise InvalidInput(f"the Corefile opens a block without server keys at line {line}", hint="fix ConfigMap kube-system/coredns (kubectl -n kube-system edit configmap coredns)")
                if not keys[0].startswith("("):
                    blocks.append(ServerBlock(tuple(keys), first_line))
                keys = []
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                raise InvalidInput(f"the Corefile closes a block that was never opened at line {line}", hint="fix ConfigMap kube-system/coredns (kubectl -n kube-system edit configmap coredns)")
        elif depth == 0:
            if not keys:
                first_line = line
            keys.append(token)

    if depth != 0:
        raise InvalidInput(f"the Corefile has {depth} unclosed block(s)", hint="fix ConfigMap kube-system/coredns (kubectl -n kube-system edit configmap coredns)")
    if keys and not keys[0].startswith("import"):
        raise InvalidInput(f"the Corefile ends with server keys {' '.join(keys)!r} that have no block", hint="fix ConfigMap kube-system/coredns (kubectl -n kube-system edit configmap coredns)")
    return blocks


def _tokens(corefile: str) -> Iterable[tuple[str, int]]:
    line = 1
    index = 0
    length = len(corefile)
    while index < length:
        char = corefile[index]
        if char == "\n":
            line += 1
            index += 1
        elif char.isspace():
            index += 1
        elif char == "#":
            while index < length and corefile[index] != "\n":
                index += 1
        elif char == '"':
            start_line = line
            index += 1
            token = []
            while index < length and corefile[index] != '"':
                if corefile[index] == "\\" and index + 1 < length:
                    index += 1
                if corefile[index] == "\n":
                    line += 1
                token.append(corefile[index])
                index += 1
            if index >= length:
                raise InvalidInput(f"the Corefile has an unterminated quoted string starting at line {start_line}", hint="fix ConfigMap kube-system/coredns (kubectl -n kube-system edit configmap coredns)")
            index += 1
            yield "".join(token), start_line
        else:
            start = index
            while index < length and not corefile[index].isspace():
                index += 1
            yield corefile[start:index], line


def _zone_key(key: str) -> str:
    """Normalise a server key such as ``dns://Example.com.:53`` to ``example.com:53``."""
    key = key.lower()
    key = re.sub(r"^[a-z]+://", "", key)
    host, _, port = key.rpartition(":") if re.search(r":\d+$", key) else (key, "", "53")
    return f"{host.rstrip('.') or '.'}:{port}"


def validate_nameserver(server: str) -> str:
    """Check a CoreDNS ``forward`` target: an IP address with an optional port."""
    host, port = server, ""
    if server.startswith("["):
        host, _, port = server[1:].partition("]")
        port = port.lstrip(":")
    elif server.count(":") == 1:
        host, port = server.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InvalidInput(f"DNS nameserver {server!r} is not an IP address with an optional port", hint="set the provider's coredns-endpoints to addresses such as 10.0.0.10:53") from None
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        raise InvalidInput(f"DNS nameserver {server!r} has an invalid port {port!r}", hint="use a port from 1 to 65535")
    return server


def nameservers_from_provider_config(text: str) -> list[str]:
    """Return ``coredns-endpoints`` from a CoreDNS provider config (``[Global]`` INI section)."""
    import configparser

    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error as error:
        raise InvalidInput(f"the DNS provider config is not a valid INI file: {error.message}", hint="fix FEDERATION_DNS_PROVIDER_CONFIG (a [Global] section with coredns-endpoints = <ip>:<port>)") from None
    if not parser.has_option("Global", "coredns-endpoints"):
        return []
    raw = parser.get("Global", "coredns-endpoints")
    return [validate_nameserver(item.strip()) for item in raw.split(",") if item.strip()]


# -- kube-dns federations map -------------------------------------------------


def parse_federations(value: str, source: str = "federations") -> dict[str, str]:
    """Parse ``name=zone[,name2=zone2]`` into an ordered mapping; ``source`` names the value in errors."""
    entries: dict[str, str] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, separator, zone = item.partition("=")
        name, zone = name.strip(), zone.strip()
        if not separator or not name or not zone:
            raise InvalidInput.variable(source, value, f"has an invalid entry {item!r}", f"write {source} as name=zone[,name2=zone2], such as myfed=example.com")
        entries[name] = zone
    return entries


def format_federations(entries: Mapping[str, str]) -> str:
    return ",".join(f"{name}={zone}" for name, zone in entries.items())


def federation_entries(name: str, zone: str, domain_map: str = "") -> dict[str, str]:
    """Return the entries a join adds: ``FEDERATIONS_DOMAIN_MAP`` when set, else ``name=zone`` without the trailing dot."""
    if domain_map.strip():
        return parse_federations(domain_map, "FEDERATIONS_DOMAIN_MAP")
    return {name: zone.rstrip(".")}


def merge_federations(value: str, entries: Mapping[str, str]) -> str:
    """Add or update ``entries`` in a ``federations`` value, keeping every other entry and its order."""
    merged = parse_federations(value)
    merged.update(entries)
    return format_federations(merged)


def remove_federations(value: str, names: Iterable[str]) -> str:
    current = parse_federations(value)
    for name in names:
        current.pop(name, None)
    return format_federations(current)


def join_kube_dns_data(data: Mapping[str, str], entries: Mapping[str, str], stub_domains: Mapping[str, list[str]] | None = None) -> dict[str, str]:
    """Return the kube-dns ConfigMap data with ``entries`` merged into ``federations``.

    Every other key is kept. ``stub_domains`` (zone to nameservers, for the
    CoreDNS provider) is merged into the JSON of ``stubDomains``, keeping the
    zones that others configured.
    """
    result = dict(data)
    result["federations"] = merge_federations(result.get("federations", ""), entries)

    if stub_domains:
        current = _parse_stub_domains(result.get("stubDomains", ""))
        current.update({zone.rstrip("."): list(servers) for zone, servers in stub_domains.items()})
        result["stubDomains"] = json.dumps(current)
    return result


def unjoin_kube_dns_data(data: Mapping[str, str], names: Iterable[str], stub_zones: Iterable[str] = ()) -> dict[str, str]:
    """Return the kube-dns ConfigMap data without these federations and stub zones; empty keys are dropped."""
    result = dict(data)
    if "federations" in result:
        remaining = remove_federations(result["federations"], names)
        if remaining:
            result["federations"] = remaining
        else:
            del result["federations"]

    zones = [zone.rstrip(".") for zone in stub_zones]
    if zones and "stubDomains" in result:
        current = _parse_stub_domains(result["stubDomains"])
        if any(zone in current for zone in zones):
            for zone in zones:
                current.pop(zone, None)
            if current:
                result["stubDomains"] = json.dumps(current)
            else:
                del result["stubDomains"]
    return result


def _parse_stub_domains(value: str) -> dict[str, list[str]]:
    if not value.strip():
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(isinstance(servers, list) for servers in parsed.values()):
        raise InvalidInput(
            f"stubDomains in ConfigMap kube-system/kube-dns is not a JSON object of zone to nameserver list: {value[:80]!r}",
            hint='fix it with kubectl -n kube-system edit configmap kube-dns (for example {"example.com": ["10.0.0.10"]})',
        )
    return parsed


# -- legacy kube-dns --federations flag -----------------------------------------

FLAG = "--federations"


def join_federations_flag(args: list[str], entries: Mapping[str, str]) -> list[str]:
    """Return kube-dns container args with ``entries`` merged into ``--federations``."""
    value, rest, position = _split_flag(args)
    merged = merge_federations(value, entries)
    if position is None:
        return rest + [f"{FLAG}={merged}"]
    return rest[:position] + [f"{FLAG}={merged}"] + rest[position:]


def unjoin_federations_flag(args: list[str], names: Iterable[str]) -> list[str]:
    """Return kube-dns container args without these federations; the flag goes when empty."""
    value, rest, position = _split_flag(args)
    if position is None:
        return list(args)
    remaining = remove_federations(value, names)
    if not remaining:
        return rest
    return rest[:position] + [f"{FLAG}={remaining}"] + rest[position:]


def _split_flag(args: list[str]) -> tuple[str, list[str], int | None]:
    """Return the flag's value, the other args, and where the flag stood (None when absent).

    Both ``--federations=a=b`` and ``--federations a=b`` are read; repeated
    flags are joined, as kube-dns reads a comma list.
    """
    values: list[str] = []
    rest: list[str] = []
    position: int | None = None
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith(FLAG + "="):
            values.append(arg[len(FLAG) + 1 :])
        elif arg == FLAG:
            if index + 1 >= len(args):
                raise InvalidInput(f"the kube-dns container ends with {FLAG} and no value", hint=f"fix the kube-dns Deployment's args ({FLAG}=name=zone)")
            index += 1
            values.append(args[index])
        else:
            rest.append(arg)
            index += 1
            continue
        if position is None:
            position = len(rest)
        index += 1
    joined = ",".join(value for value in values if value)
    parse_federations(joined, FLAG)
    return joined, rest, position


# -- which form a member uses -------------------------------------------------

CONFIGMAP_SINCE = (1, 9)


def kube_dns_reads_configmap(image: str, args: list[str]) -> bool:
    """Tell whether a kube-dns container reads ConfigMap ``kube-dns`` (True) or only its flags.

    kube-dns reads the ConfigMap when started with ``--config-map`` (1.9 to
    1.13) or ``--config-dir`` (1.14 and later, from the ``k8s-dns-kube-dns``
    images). Without either flag, the image tag decides: ``kubedns`` images
    before 1.9 shipped with Kubernetes 1.4 and read only ``--federations``.
    """
    if any(arg.startswith(("--config-map", "--config-dir")) for arg in args):
        return True
    if "k8s-dns-kube-dns" in image:
        return True
    version = image_version(image)
    return version is None or version >= CONFIGMAP_SINCE


def image_version(image: str) -> tuple[int, ...] | None:
    """Return the numeric version of an image tag such as ``kubedns-amd64:1.8`` (None when not numeric)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    tag = last.rsplit(":", 1)[1].lstrip("v")
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", tag)
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)
