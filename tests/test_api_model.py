"""The botocore service model as the test table.

* Every input constraint of every operation (required, type, min/max length
  or value, pattern, enum, list size) is derived here from botocore's own
  copy of the model, independently of berth's code, and each one is broken
  in a real request to a running server: the answer must be AWS's error for
  exactly that member, and the registry must be unchanged afterwards.
* Every operation answers a valid call through boto3.
* Every error the model lists for an operation is either exercised by a
  named test or listed, with the reason, as one berth never produces.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.auth
import botocore.loaders
import botocore.session
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from berth.api.validation import SERVICE_MODEL, iter_constraints
from conftest import Server, start_server
from support.stores import Store
from test_api_validation import build, phrase, target_shape

RAW = botocore.loaders.Loader().load_service_model("ecr-public", "service-2")
MODEL = botocore.session.get_session().get_service_model("ecr-public")
NUMERIC = {"integer", "long", "float", "double"}
SIGNER = botocore.auth.SigV4Auth(Credentials("AKIDBERTHTEST", "s"), "ecr-public", "us-east-1")
HTTP = requests.Session()


def model_constraints() -> Iterator[tuple[str, str, str]]:
    """(operation, member path, kind) for every input constraint, read from botocore's model."""

    def walk(
        op: str, shape: Any, path: str, seen: frozenset[str]
    ) -> Iterator[tuple[str, str, str]]:
        yield op, path, "type"
        meta = shape.metadata
        # A length minimum of 0 cannot be broken; a numeric one always can.
        if "min" in meta and (shape.type_name in NUMERIC or meta["min"] > 0):
            yield op, path, "min"
        if "max" in meta:
            yield op, path, "max"
        if "pattern" in meta:
            yield op, path, "pattern"
        if getattr(shape, "enum", None):
            yield op, path, "enum"
        if shape.name in seen:
            return
        seen = seen | {shape.name}
        prefix = f"{path}." if path else ""
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                if name in shape.required_members:
                    yield op, prefix + name, "required"
                yield from walk(op, member, prefix + name, seen)
        elif shape.type_name == "list":
            yield from walk(op, shape.member, f"{path}.member", seen)
        elif shape.type_name == "map":
            yield from walk(op, shape.key, f"{path}.key", seen)
            yield from walk(op, shape.value, f"{path}.value", seen)

    for op in MODEL.operation_names:
        shape = MODEL.operation_model(op).input_shape
        if shape is None or not shape.members:
            yield op, "", "type"
        else:
            yield from walk(op, shape, "", frozenset())


CONSTRAINTS = sorted(set(model_constraints()))


def test_berth_serves_the_botocore_model() -> None:
    assert SERVICE_MODEL["operations"] == RAW["operations"]
    assert SERVICE_MODEL["shapes"] == RAW["shapes"]
    assert len(MODEL.operation_names) == 23


def test_berth_enforces_every_constraint_the_model_has() -> None:
    # Berth's own enumeration must not miss anything botocore's model says.
    assert set(CONSTRAINTS) <= set(iter_constraints())
    kinds = {kind for _, _, kind in CONSTRAINTS}
    assert kinds == {"type", "required", "min", "max", "pattern"}  # no enum in ecr-public inputs
    assert {op for op, _, _ in CONSTRAINTS} == set(MODEL.operation_names)


# --- one server, one repository, snapshotted around every refused call ---------------------------


@pytest.fixture(scope="module")
def model_server(
    tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], Store]
) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("model") / "data", store=new_store())
    ecr = srv.ecr()
    # The generated bodies name repository "repo" in registry 123456789012.
    ecr.create_repository(repositoryName="repo", tags=[{"Key": "k", "Value": "v"}])
    ecr.put_repository_catalog_data(repositoryName="repo", catalogData={"description": "d"})
    ecr.set_repository_policy(
        repositoryName="repo",
        policyText='{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr-public:*"}]}',
    )
    ecr.put_registry_catalog_data(displayName="before")
    yield srv
    srv.stop()


_CLIENTS: dict[str, Any] = {}


def _client(server: Server) -> Any:
    if server.url not in _CLIENTS:
        _CLIENTS[server.url] = server.ecr()
    return _CLIENTS[server.url]


def snapshot(server: Server) -> Any:
    ecr = _client(server)
    arn = f"arn:aws:ecr-public::{server.account_id}:repository/repo"
    return (
        [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]],
        ecr.describe_images(repositoryName="repo")["imageDetails"],
        ecr.get_repository_catalog_data(repositoryName="repo")["catalogData"],
        ecr.get_repository_policy(repositoryName="repo")["policyText"],
        ecr.list_tags_for_resource(resourceArn=arn)["tags"],
        ecr.get_registry_catalog_data()["registryCatalogData"],
        ecr.describe_registries()["registries"],
    )


# Operations that change nothing even when they succeed; the others are snapshotted.
READ_ONLY = ("Describe", "Get", "List", "BatchCheck")
_BASELINE: dict[str, Any] = {}


def baseline(server: Server) -> Any:
    """The state set up by the fixture, which refused calls must leave as it is."""
    if server.url not in _BASELINE:
        _BASELINE[server.url] = snapshot(server)
    return _BASELINE[server.url]


def send(server: Server, operation: str, body: bytes) -> requests.Response:
    """A raw, correctly signed AWS JSON 1.1 request (boto3 would refuse to serialise most)."""
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body,
        headers={
            "X-Amz-Target": f"SpencerFrontendService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SIGNER.add_auth(request)
    prepared = request.prepare()
    return HTTP.post(server.url, data=body, headers=dict(prepared.headers), timeout=120)


@pytest.mark.parametrize(
    ("operation", "path", "kind"), [pytest.param(*c, id=":".join(c)) for c in CONSTRAINTS]
)
def test_each_constraint_is_refused_by_the_server(
    model_server: Server, operation: str, path: str, kind: str
) -> None:
    parts = path.split(".") if path else []
    input_shape = RAW["operations"][operation].get("input", {}).get("shape")
    body = build(input_shape, parts, kind) if input_shape else "not an object"
    before = baseline(model_server)
    answer = send(model_server, operation, json.dumps(body).encode())
    assert answer.status_code == 400, answer.text
    error = answer.json()
    if kind == "type":
        assert error["__type"] == "SerializationException", error
    else:
        concrete = path.replace(".member", ".1.member")
        assert error == {
            "__type": "InvalidParameterException",
            "message": f"Invalid parameter at '{concrete}' failed to satisfy constraint: "
            f"'{phrase(target_shape(operation, parts), kind)}'",
        }
    if not operation.startswith(READ_ONLY):
        assert snapshot(model_server) == before


# --- every operation answers ---------------------------------------------------------------------


def _layer(ecr: Any, name: str) -> str:
    upload = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=name, uploadId=upload, partFirstByte=0, partLastByte=1, layerPartBlob=b"{}"
    )
    digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    return str(
        ecr.complete_layer_upload(repositoryName=name, uploadId=upload, layerDigests=[digest])[
            "layerDigest"
        ]
    )


def _manifest(config: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config,
                "size": 2,
            },
            "layers": [],
        }
    )


def test_every_operation_answers_a_valid_call(model_server: Server) -> None:
    ecr = model_server.ecr()
    name = f"ops/{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:ecr-public::{model_server.account_id}:repository/{name}"
    policy = '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr-public:*"}]}'
    seen: dict[str, Any] = {}
    calls: list[tuple[str, Callable[[], Any], Callable[[Any], bool]]] = [
        (
            "CreateRepository",
            lambda: ecr.create_repository(repositoryName=name),
            lambda r: r["repository"]["repositoryArn"] == arn,
        ),
        (
            "DescribeRepositories",
            lambda: ecr.describe_repositories(repositoryNames=[name]),
            lambda r: len(r["repositories"]) == 1,
        ),
        (
            "DescribeRegistries",
            lambda: ecr.describe_registries(),
            lambda r: r["registries"][0]["registryId"] == model_server.account_id,
        ),
        (
            "GetAuthorizationToken",
            lambda: ecr.get_authorization_token(),
            lambda r: r["authorizationData"]["authorizationToken"],
        ),
        (
            "PutRegistryCatalogData",
            lambda: ecr.put_registry_catalog_data(displayName="ops"),
            lambda r: r["registryCatalogData"] == {"displayName": "ops"},
        ),
        (
            "GetRegistryCatalogData",
            lambda: ecr.get_registry_catalog_data(),
            lambda r: r["registryCatalogData"] == {"displayName": "ops"},
        ),
        (
            "PutRepositoryCatalogData",
            lambda: ecr.put_repository_catalog_data(
                repositoryName=name, catalogData={"usageText": "u"}
            ),
            lambda r: r["catalogData"]["usageText"] == "u",
        ),
        (
            "GetRepositoryCatalogData",
            lambda: ecr.get_repository_catalog_data(repositoryName=name),
            lambda r: r["catalogData"]["usageText"] == "u",
        ),
        (
            "SetRepositoryPolicy",
            lambda: ecr.set_repository_policy(repositoryName=name, policyText=policy),
            lambda r: r["policyText"] == policy,
        ),
        (
            "GetRepositoryPolicy",
            lambda: ecr.get_repository_policy(repositoryName=name),
            lambda r: r["policyText"] == policy,
        ),
        (
            "DeleteRepositoryPolicy",
            lambda: ecr.delete_repository_policy(repositoryName=name),
            lambda r: r["policyText"] == policy,
        ),
        (
            "TagResource",
            lambda: ecr.tag_resource(
                resourceArn=arn, tags=[{"Key": "a", "Value": "b"}, {"Key": "c", "Value": "d"}]
            ),
            lambda r: True,
        ),
        (
            "UntagResource",
            lambda: ecr.untag_resource(resourceArn=arn, tagKeys=["c"]),
            lambda r: True,
        ),
        (
            "ListTagsForResource",
            lambda: ecr.list_tags_for_resource(resourceArn=arn),
            lambda r: r["tags"] == [{"Key": "a", "Value": "b"}],
        ),
        (
            "InitiateLayerUpload",
            lambda: ecr.initiate_layer_upload(repositoryName=name),
            lambda r: r["partSize"] > 0,
        ),
        (
            "UploadLayerPart",
            lambda: ecr.upload_layer_part(
                repositoryName=name,
                uploadId=seen["InitiateLayerUpload"]["uploadId"],
                partFirstByte=0,
                partLastByte=1,
                layerPartBlob=b"{}",
            ),
            lambda r: r["lastByteReceived"] == 1,
        ),
        (
            "CompleteLayerUpload",
            lambda: ecr.complete_layer_upload(
                repositoryName=name,
                uploadId=seen["InitiateLayerUpload"]["uploadId"],
                layerDigests=[
                    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
                ],
            ),
            lambda r: r["layerDigest"].startswith("sha256:"),
        ),
        (
            "BatchCheckLayerAvailability",
            lambda: ecr.batch_check_layer_availability(
                repositoryName=name, layerDigests=[seen["CompleteLayerUpload"]["layerDigest"]]
            ),
            lambda r: r["layers"][0]["layerAvailability"] == "AVAILABLE",
        ),
        (
            "PutImage",
            lambda: ecr.put_image(
                repositoryName=name,
                imageManifest=_manifest(seen["CompleteLayerUpload"]["layerDigest"]),
                imageTag="v1",
            ),
            lambda r: r["image"]["imageId"]["imageTag"] == "v1",
        ),
        (
            "DescribeImages",
            lambda: ecr.describe_images(repositoryName=name),
            lambda r: r["imageDetails"][0]["imageTags"] == ["v1"],
        ),
        (
            "DescribeImageTags",
            lambda: ecr.describe_image_tags(repositoryName=name),
            lambda r: r["imageTagDetails"][0]["imageTag"] == "v1",
        ),
        (
            "BatchDeleteImage",
            lambda: ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "v1"}]),
            lambda r: r["failures"] == [] and len(r["imageIds"]) == 1,
        ),
        (
            "DeleteRepository",
            lambda: ecr.delete_repository(repositoryName=name),
            lambda r: r["repository"]["repositoryName"] == name,
        ),
    ]
    assert {op for op, _, _ in calls} == set(MODEL.operation_names)
    for op, call, check in calls:
        seen[op] = call()
        assert check(seen[op]), (op, seen[op])
    ecr.put_registry_catalog_data(displayName="before")


# --- every modeled error -------------------------------------------------------------------------

# (operation, error) -> the test that makes berth answer it ("module::function").
EXERCISED: dict[tuple[str, str], str] = {
    (
        "BatchCheckLayerAvailability",
        "RepositoryNotFoundException",
    ): "test_api_layers::test_unknown_repository",
    (
        "BatchCheckLayerAvailability",
        "RegistryNotFoundException",
    ): "test_api_layers::test_unknown_registry",
    (
        "BatchDeleteImage",
        "RepositoryNotFoundException",
    ): "test_api_images::test_delete_unknown_repository",
    (
        "CompleteLayerUpload",
        "RepositoryNotFoundException",
    ): "test_api_layers::test_unknown_repository",
    ("CompleteLayerUpload", "UploadNotFoundException"): "test_api_layers::test_unknown_upload_id",
    (
        "CompleteLayerUpload",
        "InvalidLayerException",
    ): "test_api_layers::test_complete_with_wrong_digest",
    (
        "CompleteLayerUpload",
        "LayerPartTooSmallException",
    ): "test_api_layers::test_small_non_last_part_is_too_small",
    (
        "CompleteLayerUpload",
        "LayerAlreadyExistsException",
    ): "test_api_layers::test_same_layer_again_is_already_exists",
    ("CompleteLayerUpload", "EmptyUploadException"): "test_api_layers::test_complete_with_no_parts",
    ("CompleteLayerUpload", "RegistryNotFoundException"): "test_api_layers::test_unknown_registry",
    (
        "CreateRepository",
        "InvalidTagParameterException",
    ): "test_api_catalog::test_create_repository_is_atomic",
    (
        "CreateRepository",
        "TooManyTagsException",
    ): "test_api_catalog::test_create_repository_is_atomic",
    (
        "CreateRepository",
        "RepositoryAlreadyExistsException",
    ): "test_api_repositories::test_create_repository_twice_is_already_exists",
    (
        "DeleteRepository",
        "RepositoryNotFoundException",
    ): "test_api_repositories::test_delete_missing_repository",
    (
        "DeleteRepository",
        "RepositoryNotEmptyException",
    ): "test_api_repositories::test_delete_repository_with_image_needs_force",
    (
        "DeleteRepositoryPolicy",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_policy_of_missing_repository",
    (
        "DeleteRepositoryPolicy",
        "RepositoryPolicyNotFoundException",
    ): "test_api_catalog::test_policy_round_trip_is_verbatim",
    (
        "DescribeImageTags",
        "RepositoryNotFoundException",
    ): "test_api_images::test_describe_images_unknown_repository",
    (
        "DescribeImages",
        "RepositoryNotFoundException",
    ): "test_api_images::test_describe_images_unknown_repository",
    (
        "DescribeImages",
        "ImageNotFoundException",
    ): "test_api_images::test_describe_images_missing_id",
    (
        "DescribeRepositories",
        "RepositoryNotFoundException",
    ): "test_api_repositories::test_describe_repositories_missing_name_fails_whole_call",
    (
        "GetAuthorizationToken",
        "UnsupportedCommandException",
    ): "test_api_registries::test_authorization_token_only_in_us_east_1",
    (
        "GetRepositoryCatalogData",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_catalog_of_missing_repository",
    (
        "GetRepositoryPolicy",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_policy_of_missing_repository",
    (
        "GetRepositoryPolicy",
        "RepositoryPolicyNotFoundException",
    ): "test_api_catalog::test_policy_round_trip_is_verbatim",
    (
        "InitiateLayerUpload",
        "RepositoryNotFoundException",
    ): "test_api_layers::test_unknown_repository",
    ("InitiateLayerUpload", "RegistryNotFoundException"): "test_api_layers::test_unknown_registry",
    (
        "ListTagsForResource",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_tags_of_bad_or_missing_resource",
    (
        "PutImage",
        "RepositoryNotFoundException",
    ): "test_api_images::test_put_image_unknown_repository",
    (
        "PutImage",
        "ImageAlreadyExistsException",
    ): "test_api_images::test_c6_same_manifest_same_tag_twice",
    ("PutImage", "LayersNotFoundException"): "test_api_images::test_put_image_missing_layer",
    (
        "PutImage",
        "ReferencedImagesNotFoundException",
    ): "test_api_images::test_put_index_with_missing_child",
    (
        "PutImage",
        "ImageDigestDoesNotMatchException",
    ): "test_api_images::test_put_image_digest_mismatch",
    (
        "PutImage",
        "RegistryNotFoundException",
    ): "test_api_model::test_unknown_registry_on_put_image_and_upload_layer_part",
    (
        "PutRepositoryCatalogData",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_catalog_of_missing_repository",
    (
        "SetRepositoryPolicy",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_policy_of_missing_repository",
    ("TagResource", "InvalidTagParameterException"): "test_api_catalog::test_reserved_aws_keys",
    ("TagResource", "TooManyTagsException"): "test_api_catalog::test_fifty_tags_is_the_limit",
    (
        "TagResource",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_tags_of_bad_or_missing_resource",
    ("UntagResource", "InvalidTagParameterException"): "test_api_catalog::test_reserved_aws_keys",
    (
        "UntagResource",
        "RepositoryNotFoundException",
    ): "test_api_catalog::test_tags_of_bad_or_missing_resource",
    (
        "UploadLayerPart",
        "InvalidLayerPartException",
    ): "test_api_layers::test_part_not_at_the_next_byte_is_invalid",
    ("UploadLayerPart", "RepositoryNotFoundException"): "test_api_layers::test_unknown_repository",
    ("UploadLayerPart", "UploadNotFoundException"): "test_api_layers::test_unknown_upload_id",
    (
        "UploadLayerPart",
        "RegistryNotFoundException",
    ): "test_api_model::test_unknown_registry_on_put_image_and_upload_layer_part",
}
# Every operation's InvalidParameterException is exercised by the constraint table above.
EXERCISED.update(
    {
        (
            op,
            "InvalidParameterException",
        ): "test_api_model::test_each_constraint_is_refused_by_the_server"
        for op in MODEL.operation_names
    }
)

# (operation or "*", error) -> why berth never answers it.
NOT_PRODUCED: dict[tuple[str, str], str] = {
    ("*", "ServerException"): "a 500 is a bug; every path answers a client error or succeeds",
    (
        "*",
        "UnsupportedCommandException",
    ): "every operation is served (GetAuthorizationToken outside us-east-1 is tested)",
    ("PutImage", "ImageTagAlreadyExistsException"): "ECR Public has no tag immutability",
    (
        "GetRepositoryCatalogData",
        "RepositoryCatalogDataNotFoundException",
    ): "an existing repository answers {} as Terraform expects (reference §3.13)",
    ("UntagResource", "TooManyTagsException"): "removing tags cannot exceed a limit",
    (
        "CreateRepository",
        "LimitExceededException",
    ): "10,000 repositories per registry; too slow to reach in a test",
    (
        "PutImage",
        "LimitExceededException",
    ): "100,000 images per repository / 1,000 tags per image; too slow to reach in a test",
    (
        "UploadLayerPart",
        "LimitExceededException",
    ): "1,000 parts per upload; reaching it costs two minutes per backend",
}


def test_every_modeled_error_is_exercised_or_explained() -> None:
    missing = []
    for op in MODEL.operation_names:
        for error in (e.name for e in MODEL.operation_model(op).error_shapes):
            if (op, error) in EXERCISED:
                module, function = EXERCISED[(op, error)].split("::")
                assert callable(getattr(importlib.import_module(module), function, None)), (
                    op,
                    error,
                    EXERCISED[(op, error)],
                )
            elif (op, error) not in NOT_PRODUCED and ("*", error) not in NOT_PRODUCED:
                missing.append((op, error))
    assert missing == []


@pytest.mark.parametrize("registry_id", ["nosuchalias", "999999999998"])
def test_unknown_registry_on_put_image_and_upload_layer_part(
    model_server: Server, registry_id: str
) -> None:
    ecr = model_server.ecr()
    before = snapshot(model_server)
    for call in (
        lambda: ecr.put_image(
            repositoryName="repo",
            registryId=registry_id,
            imageManifest=_manifest("sha256:" + "0" * 64),
            imageTag="t",
        ),
        lambda: ecr.upload_layer_part(
            repositoryName="repo",
            registryId=registry_id,
            uploadId=str(uuid.uuid4()),
            partFirstByte=0,
            partLastByte=0,
            layerPartBlob=b"x",
        ),
    ):
        with pytest.raises(ecr.exceptions.RegistryNotFoundException) as info:
            call()
        assert registry_id in info.value.response["Error"]["Message"]
    assert snapshot(model_server) == before
