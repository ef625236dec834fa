"""Output shapes of the service model, built from core records."""

from __future__ import annotations

from typing import Any

from ..core.model import Image, Registry, Repository, TagRecord
from ..core.service import Core


def repository_arn(account_id: str, name: str) -> str:
    # ECR Public ARNs have an empty region field.
    return f"arn:aws:ecr-public::{account_id}:repository/{name}"


def repository(core: Core, repo: Repository, alias: str) -> dict[str, Any]:
    return {
        "repositoryArn": repository_arn(repo.account_id, repo.name),
        "registryId": repo.account_id,
        "repositoryName": repo.name,
        "repositoryUri": f"{core.settings.public_host}/{alias}/{repo.name}",
        "createdAt": repo.created_at,
    }


def registry(core: Core, reg: Registry) -> dict[str, Any]:
    return {
        "registryId": reg.account_id,
        "registryArn": f"arn:aws:ecr-public::{reg.account_id}:registry/{reg.account_id}",
        "registryUri": f"{core.settings.public_host}/{reg.primary_alias}",
        "verified": False,
        "aliases": [
            {
                "name": a.name,
                "status": a.status,
                "primaryRegistryAlias": a.is_primary,
                "defaultRegistryAlias": a.is_default,
            }
            for a in reg.aliases
        ],
    }


def _media_types(image: Image) -> dict[str, Any]:
    out: dict[str, Any] = {"imageManifestMediaType": image.media_type}
    if image.artifact_media_type:
        out["artifactMediaType"] = image.artifact_media_type
    return out


def image_detail(repo: Repository, image: Image) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "registryId": repo.account_id,
        "repositoryName": repo.name,
        "imageDigest": image.digest,
    }
    if image.tags:
        detail["imageTags"] = list(image.tags)
    detail["imageSizeInBytes"] = image.size
    detail["imagePushedAt"] = image.pushed_at
    detail.update(_media_types(image))
    return detail


def image_tag_detail(tag: TagRecord) -> dict[str, Any]:
    return {
        "imageTag": tag.name,
        "createdAt": tag.created_at,
        "imageDetail": {
            "imageDigest": tag.image.digest,
            "imageSizeInBytes": tag.image.size,
            "imagePushedAt": tag.image.pushed_at,
            **_media_types(tag.image),
        },
    }
