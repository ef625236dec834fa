"""The operation table: service-model name -> the function that serves it."""

from __future__ import annotations

from . import images, layers, registries, repositories
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
}
