"""AWS JSON 1.1 errors, and the one table that words core's errors AWS's way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core import errors as e


class AwsError(Exception):
    """An error in the caller's protocol: `{"__type": code, "message": ...}`."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message, **self.extra}


def invalid_parameter(member: str, constraint: str) -> AwsError:
    return AwsError(
        "InvalidParameterException",
        f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'",
    )


def _repository_not_found(err: e.RepositoryNotFound) -> AwsError:
    return AwsError(
        "RepositoryNotFoundException",
        f"The repository with name '{err.name}' does not exist in the registry "
        f"with id '{err.account_id}'",
    )


# core error -> AWS error, where the meaning does not depend on the operation.
# Operation-specific meanings (a digest mismatch is InvalidLayerException in
# CompleteLayerUpload, ImageDigestDoesNotMatchException in PutImage) are
# mapped by the operation itself.
_TABLE: dict[type[Exception], Callable[[Any], AwsError]] = {
    e.RepositoryNotFound: _repository_not_found,
    e.RepositoryAlreadyExists: lambda err: AwsError(
        "RepositoryAlreadyExistsException",
        f"The repository with name '{err.name}' already exists in the registry "
        f"with id '{err.account_id}'",
    ),
    e.RepositoryNotEmpty: lambda err: AwsError(
        "RepositoryNotEmptyException",
        f"The repository with name '{err.name}' in registry with id '{err.account_id}' "
        "cannot be deleted because it still contains images",
    ),
    e.RegistryNotFound: lambda err: AwsError(
        "RegistryNotFoundException",
        f"The registry with id or alias '{err.registry}' does not exist",
    ),
    e.InvalidName: lambda err: invalid_parameter(
        "repositoryName" if err.kind == "repository" else "imageTag",
        "must satisfy regular expression "
        "'(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'"
        if err.kind == "repository"
        else "Invalid tag",
    ),
    e.InvalidLogo: lambda err: invalid_parameter("catalogData.logoImageBlob", err.reason),
    e.InvalidPolicy: lambda err: invalid_parameter(
        "PolicyText", "Invalid repository policy provided"
    ),
    e.PolicyLocksOut: lambda err: invalid_parameter(
        "PolicyText",
        "The repository policy you provided would prevent you from setting another "
        "repository policy in the future. To set this policy anyway, use the force parameter.",
    ),
    e.PolicyNotFound: lambda err: AwsError(
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist for the repository with name '{err.name}' "
        f"in the registry with id '{err.account_id}'",
    ),
    e.InvalidResourceTag: lambda err: AwsError("InvalidTagParameterException", err.reason),
    e.TooManyTags: lambda err: AwsError(
        "TooManyTagsException",
        f"A repository can have at most {err.limit} tags; the request would exceed that",
    ),
    e.LimitExceeded: lambda err: AwsError(
        "LimitExceededException",
        f"The maximum allowed number of {err.what} ({err.limit}) has been exceeded.",
    ),
    e.Denied: lambda err: AwsError(
        "AccessDeniedException",
        f"User is not authorized to perform: {err.action} on resource: {err.resource}",
    ),
}


def to_aws(err: Exception) -> AwsError | None:
    for kind in type(err).__mro__:
        if kind in _TABLE:
            return _TABLE[kind](err)
    return None
