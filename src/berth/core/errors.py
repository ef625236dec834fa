"""Plane-neutral domain errors.

Core raises these; each face maps them to its own wire form (an AWS
`__type` in api/, an OCI error code in registry/). They carry the facts a
face needs to word its message, never a wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class BerthError(Exception):
    """Base of every error core raises on purpose."""


@dataclass
class RegistryNotFound(BerthError):
    registry: str


@dataclass
class RepositoryNotFound(BerthError):
    account_id: str
    name: str


@dataclass
class RepositoryAlreadyExists(BerthError):
    account_id: str
    name: str


@dataclass
class RepositoryNotEmpty(BerthError):
    account_id: str
    name: str


@dataclass
class InvalidName(BerthError):
    """A repository name, tag or reference that breaks the naming rules."""

    kind: str  # "repository" | "tag" | "reference"
    value: str


@dataclass
class InvalidDigest(BerthError):
    value: str


@dataclass
class UnsupportedDigest(BerthError):
    algorithm: str


@dataclass
class BlobNotFound(BerthError):
    digest: str


@dataclass
class ManifestNotFound(BerthError):
    reference: str


@dataclass
class ManifestInvalid(BerthError):
    reason: str


@dataclass
class ManifestTooLarge(BerthError):
    size: int
    limit: int


@dataclass
class ManifestMediaTypeMissing(BerthError):
    """The manifest has no mediaType field and the caller named none."""


@dataclass
class BlobsNotFound(BerthError):
    """Blobs a manifest references that the repository does not hold."""

    digests: list[str]


@dataclass
class ManifestsNotFound(BerthError):
    """Child manifests an index references that the repository does not hold."""

    digests: list[str]


@dataclass
class ImageAlreadyExists(BerthError):
    digest: str
    tag: str


@dataclass
class DigestMismatch(BerthError):
    """The content does not hash to the digest the caller claimed."""

    expected: str
    actual: str


@dataclass
class UploadNotFound(BerthError):
    upload_id: str


@dataclass
class UploadEmpty(BerthError):
    upload_id: str


@dataclass
class UploadRangeInvalid(BerthError):
    """A chunk that does not start where the upload stands."""

    upload_id: str
    size: int  # bytes already received
    first_byte: int = 0


@dataclass
class UploadPartTooSmall(BerthError):
    upload_id: str
    minimum: int


@dataclass
class BlobAlreadyExists(BerthError):
    digest: str


@dataclass
class Unauthorized(BerthError):
    """No or bad credentials."""

    reason: str = "authentication required"


@dataclass
class Denied(BerthError):
    """Credentials are fine but do not allow this action."""

    action: str = ""
    resource: str = ""
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class InvalidLogo(BerthError):
    reason: str


@dataclass
class InvalidPolicy(BerthError):
    reason: str


@dataclass
class PolicyLocksOut(BerthError):
    """The policy would deny its setter SetRepositoryPolicy; needs `force`."""

    name: str


@dataclass
class PolicyNotFound(BerthError):
    account_id: str
    name: str


@dataclass
class InvalidResourceTag(BerthError):
    reason: str


@dataclass
class TooManyTags(BerthError):
    limit: int


@dataclass
class LimitExceeded(BerthError):
    """A count quota (repositories, images, tags per image, parts) is reached."""

    what: str
    limit: int


@dataclass
class BlobInUse(BerthError):
    """A blob an image of the repository still references."""

    digest: str
