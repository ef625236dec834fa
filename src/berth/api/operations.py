"""The operation table: service-model name -> the function that serves it."""

from __future__ import annotations

from . import catalog, images, layers, policies, registries, repositories, tagging
from .protocol import Operation

OPERATIONS: dict[str, Operation] = {
    "CreateRepository": repositories.create_repository,
    "DescribeRepositories": repositories.describe_repositories,
    "DeleteRepository": repositories.delete_repository,
    "DescribeRegistries": registries.describe_registries,
    "GetAuthorizationToken": registries.get_authorization_token,
    "InitiateLayerUpload": layers.initiate_layer_upload,
    "UploadLayerPart": layers.upload_layer_part,
    "CompleteLayerUpload": layers.complete_layer_upload,
    "BatchCheckLayerAvailability": layers.batch_check_layer_availability,
    "PutImage": images.put_image,
    "DescribeImages": images.describe_images,
    "DescribeImageTags": images.describe_image_tags,
    "BatchDeleteImage": images.batch_delete_image,
    "GetRegistryCatalogData": catalog.get_registry_catalog_data,
    "PutRegistryCatalogData": catalog.put_registry_catalog_data,
    "GetRepositoryCatalogData": catalog.get_repository_catalog_data,
    "PutRepositoryCatalogData": catalog.put_repository_catalog_data,
    "SetRepositoryPolicy": policies.set_repository_policy,
    "GetRepositoryPolicy": policies.get_repository_policy,
    "DeleteRepositoryPolicy": policies.delete_repository_policy,
    "TagResource": tagging.tag_resource,
    "UntagResource": tagging.untag_resource,
    "ListTagsForResource": tagging.list_tags_for_resource,
}
