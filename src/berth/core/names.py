"""Naming rules, one set for both faces (case C8).

The repository-name rule is ECR Public's, read from the botocore service
model rather than typed in by hand; the tag rule on /v2 is the OCI one.
"""

from __future__ import annotations

import re
from functools import cache

from .errors import InvalidName

# OCI distribution-spec tag grammar; PutImage's own 1-300 limit is checked by the API face.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


@cache
def _repository_rule() -> tuple[re.Pattern[str], int, int]:
    from botocore.loaders import Loader

    shape = Loader().load_service_model("ecr-public", "service-2")["shapes"]["RepositoryName"]
    return re.compile(shape["pattern"]), int(shape["min"]), int(shape["max"])


def is_repository_name(name: str) -> bool:
    pattern, low, high = _repository_rule()
    return low <= len(name) <= high and pattern.fullmatch(name) is not None


def check_repository_name(name: str) -> str:
    if not is_repository_name(name):
        raise InvalidName("repository", name)
    return name


def check_tag(tag: str) -> str:
    if not TAG.fullmatch(tag):
        raise InvalidName("tag", tag)
    return tag
