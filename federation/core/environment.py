"""Settings from the process environment and ``.env`` files.

Precedence, highest first:

1. the process environment (what the legacy scripts read);
2. ``./.env`` in the working directory;
3. ``${FEDERATION_OUTPUT_ROOT}/.env``;
4. the default each script gives.

A ``.env`` file never overrides a variable that is already set, the same rule
as python-dotenv's ``load_dotenv``. The process environment itself is never
modified, so a child program only sees ``.env`` values that are passed on
explicitly.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from federation.core.errors import InvalidInput

log = logging.getLogger(__name__)

TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", ""})


class Environment(Mapping[str, str]):
    """A read-only view of settings that remembers where each value came from."""

    def __init__(self, environ: Mapping[str, str], dotenv_files: Mapping[Path, Mapping[str, str]] = {}) -> None:
        self._values: dict[str, str] = {}
        self._sources: dict[str, str] = {}

        # Lowest precedence first, so later layers overwrite earlier ones.
        for path, values in reversed(list(dotenv_files.items())):
            for name, value in values.items():
                if value is not None:
                    self._values[name] = value
                    self._sources[name] = str(path)
        for name, value in environ.items():
            self._values[name] = value
            self._sources[name] = "environment"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> "Environment":
        """Read the process environment, then ``./.env`` and ``${FEDERATION_OUTPUT_ROOT}/.env``."""
        environ = dict(os.environ if environ is None else environ)
        cwd = Path.cwd() if cwd is None else cwd
        files: dict[Path, Mapping[str, str]] = {}

        local = cwd / ".env"
        if local.is_file():
            files[local] = read_dotenv(local)

        output_root = environ.get("FEDERATION_OUTPUT_ROOT") or files.get(local, {}).get("FEDERATION_OUTPUT_ROOT")
        if output_root:
            nested = Path(output_root).expanduser() / ".env"
            if nested.is_file() and nested.resolve() != local.resolve():
                files[nested] = read_dotenv(nested)

        env = cls(environ, files)
        for path in files:
            log.debug("read settings from %s", path)
        return env

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, name: str) -> str:
        """Return ``environment``, the ``.env`` path that set ``name``, or ``default``."""
        return self._sources.get(name, "default")

    def value(self, name: str, default: str = "") -> str:
        """Return the value of ``name``, treating an empty value as unset (as ``${X:-default}`` does)."""
        value = self._values.get(name, "")
        if value == "":
            return default
        log.debug("%s=%s (from %s)", name, value if not _looks_secret(name) else "<hidden>", self.source(name))
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """Parse a boolean variable, rejecting words that are neither true nor false."""
        raw = self._values.get(name)
        if raw is None or raw.strip() == "":
            return default
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise InvalidInput.variable(name, raw, "is not a boolean", f"set {name} to true or false")

    def with_overrides(self, **values: str) -> "Environment":
        """Return a copy where ``values`` win over everything, as a command-line flag does."""
        copy = Environment({})
        copy._values = {**self._values, **values}
        copy._sources = {**self._sources, **{name: "command line" for name in values}}
        return copy


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse one ``.env`` file, rejecting lines python-dotenv would silently skip."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read settings file {path}: {error}", hint="fix or remove the file") from None

    line = 1
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise InvalidInput(
                f"settings file {path} line {line} is not NAME=value: {binding.original.string.strip()!r}",
                hint="fix that line or remove it; see python-dotenv's file format",
            )
        line += binding.original.string.count("\n")

    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return {name: value for name, value in values.items() if value is not None}


def _looks_secret(name: str) -> bool:
    return any(word in name.upper() for word in ("TOKEN", "PASSWORD", "SECRET", "KEY"))
