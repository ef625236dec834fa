"""TagResource, UntagResource, ListTagsForResource: tags on repositories by ARN."""

from __future__ import annotations

import re
from typing import Any

from ..core import repositories, resource_tags
from ..core.model import Repository
from .access import require
from .errors import AwsError, invalid_parameter
from .protocol import Call

_REPOSITORY_ARN = re.compile(
    r"arn:aws:ecr-public:(?:us-east-1)?:(?P<account>[0-9]{12}):repository/(?P<name>.+)"
)


async def _repository(call: Call, write: bool) -> Repository:
    match = _REPOSITORY_ARN.fullmatch(call.params["resourceArn"])
    if match is None:
        raise invalid_parameter("resourceArn", "Invalid ARN")
    repo = await repositories.get_repository(call.core, match["account"], match["name"])
    if write:
        await require(call, repo)
    return repo


def tag_pairs(tags: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(key, value) pairs of a TagList; the model leaves both optional, AWS does not."""
    pairs = []
    for tag in tags:
        if "Key" not in tag or "Value" not in tag:
            raise AwsError("InvalidTagParameterException", "Each tag needs a Key and a Value.")
        pairs.append((tag["Key"], tag["Value"]))
    return pairs


async def tag_resource(call: Call) -> dict[str, Any]:
    repo = await _repository(call, write=True)
    await resource_tags.tag(call.core, repo, tag_pairs(call.params["tags"]))
    return {}


async def untag_resource(call: Call) -> dict[str, Any]:
    repo = await _repository(call, write=True)
    await resource_tags.untag(call.core, repo, list(call.params["tagKeys"]))
    return {}


async def list_tags_for_resource(call: Call) -> dict[str, Any]:
    repo = await _repository(call, write=False)
    tags = await resource_tags.list_tags(call.core, repo)
    return {"tags": [{"Key": k, "Value": v} for k, v in tags]}
