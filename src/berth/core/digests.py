"""Content digests: parsing, and hashers that run while bytes arrive."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .errors import InvalidDigest, UnsupportedDigest

# algorithm -> length of its lower-case hex encoding
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
DEFAULT_ALGORITHM = "sha256"

# The OCI grammar for any digest; an unknown algorithm is well-formed but unsupported.
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


def parse(value: str) -> tuple[str, str]:
    """Split and check a digest, returning (algorithm, hex)."""
    if not _GRAMMAR.fullmatch(value):
        raise InvalidDigest(value)
    algorithm, encoded = value.split(":", 1)
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise UnsupportedDigest(algorithm)
    if len(encoded) != length or not all(c in "0123456789abcdef" for c in encoded):
        raise InvalidDigest(value)
    return algorithm, encoded


def is_digest(value: str) -> bool:
    try:
        parse(value)
    except (InvalidDigest, UnsupportedDigest):
        return False
    return True


def looks_like_digest(value: str) -> bool:
    """True for anything shaped `algo:encoded`; a tag can never contain ':'."""
    return ":" in value


def hasher(algorithm: str = DEFAULT_ALGORITHM) -> Any:
    if algorithm not in ALGORITHMS:
        raise UnsupportedDigest(algorithm)
    return hashlib.new(algorithm)


def of(data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def algorithm_of(digest: str) -> str:
    return digest.split(":", 1)[0]
