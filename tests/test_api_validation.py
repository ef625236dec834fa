"""Tests for berth.api.validation (pure functions, no server)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from berth.api.validation import (
    OPERATIONS,
    SERVICE_MODEL,
    ValidationError,
    _Checker,
    iter_constraints,
    validate_input,
)

SHAPES: dict[str, Any] = SERVICE_MODEL["shapes"]
UPLOAD_ID = "0123abcd-0123-abcd-0123-0123456789ab"
NAME_PATTERN = SHAPES["RepositoryName"]["pattern"]
KINDS = {"required", "min", "max", "pattern", "enum", "type"}


def zeros_b64(size: int) -> str:
    """Base64 of ``size`` zero bytes, built by string repetition (fast even for 20 MiB)."""
    full, rest = divmod(size, 3)
    return "AAAA" * full + {0: "", 1: "AA==", 2: "AAA="}[rest]


def regex(pattern: str) -> str:
    """The phrase for a pattern violation, worded as ECR does (no ``Member``)."""
    return f"must satisfy regular expression '{pattern}'"


def violation(path: str, phrase: str) -> str:
    return f"Invalid parameter at '{path}' failed to satisfy constraint: '{phrase}'"


def constraint_error(operation: str, body: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_input(operation, body)
    assert info.value.code == "InvalidParameterException"
    return info.value


def expect_violations(error: ValidationError, expected: list[tuple[str, str]]) -> None:
    """Assert ``error`` has exactly ``expected`` (path, phrase) pairs, in order.

    Its message, as ECR reports it, is only the first of them.
    """
    assert error.violations == [violation(path, phrase) for path, phrase in expected]
    assert error.message == error.violations[0]


VALID_NAMES = ["ab", "team/app", "a/b/c/d/e/f/g/h", "a.b_c-d/e0", "ab/" * 68 + "c"]
INVALID_NAMES = ["/lead", "trail/", "a//b", "a--b", "MyRepo", "-ab", "a b", "a_.b", "ab:1"]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_repository_names(name: str) -> None:
    assert len(name) <= 205
    assert validate_input("CreateRepository", {"repositoryName": name}) == {"repositoryName": name}


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_repository_names(name: str) -> None:
    error = constraint_error("CreateRepository", {"repositoryName": name})
    assert error.message == (
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
        f"'must satisfy regular expression '{NAME_PATTERN}''"
    )
    assert error.violations == [error.message]


CONSTRAINT_CASES: list[tuple[str, str, dict[str, Any], list[tuple[str, str]]]] = [
    ("required", "DescribeImages", {}, [("repositoryName", "Member must not be null")]),
    (
        "required-null",
        "DescribeImages",
        {"repositoryName": None},
        [("repositoryName", "Member must not be null")],
    ),
    (
        "required-all",
        "UploadLayerPart",
        {"registryId": "ab"},
        [
            ("repositoryName", "Member must not be null"),
            ("uploadId", "Member must not be null"),
            ("partFirstByte", "Member must not be null"),
            ("partLastByte", "Member must not be null"),
            ("layerPartBlob", "Member must not be null"),
        ],
    ),
    (
        "name-max",
        "CreateRepository",
        {"repositoryName": "a" * 206},
        [("repositoryName", "Member must have length less than or equal to 205")],
    ),
    (
        "name-min",
        "CreateRepository",
        {"repositoryName": "a"},
        [("repositoryName", "Member must have length greater than or equal to 2")],
    ),
    (
        "name-max-and-pattern",
        "CreateRepository",
        {"repositoryName": "A" * 206},
        [
            ("repositoryName", "Member must have length less than or equal to 205"),
            ("repositoryName", regex(NAME_PATTERN)),
        ],
    ),
    (
        "maxResults-max",
        "DescribeRepositories",
        {"maxResults": 1001},
        [("maxResults", "Member must have value less than or equal to 1000")],
    ),
    (
        "maxResults-min",
        "DescribeImageTags",
        {"repositoryName": "repo", "maxResults": 0},
        [("maxResults", "Member must have value greater than or equal to 1")],
    ),
    (
        "registryId-pattern",
        "DescribeRepositories",
        {"registryId": "abc"},
        [("registryId", regex("[0-9]{12}"))],
    ),
    (
        "registryIdOrAlias-min",
        "InitiateLayerUpload",
        {"registryId": "a", "repositoryName": "repo"},
        [("registryId", "Member must have length greater than or equal to 2")],
    ),
    (
        "imageIds-max",
        "BatchDeleteImage",
        {"repositoryName": "repo", "imageIds": [{"imageTag": "t"}] * 101},
        [("imageIds", "Member must have length less than or equal to 100")],
    ),
    (
        "imageIds-min",
        "BatchDeleteImage",
        {"repositoryName": "repo", "imageIds": []},
        [("imageIds", "Member must have length greater than or equal to 1")],
    ),
    (
        "imageIds-nested",
        "BatchDeleteImage",
        {"repositoryName": "repo", "imageIds": [{"imageTag": "ok"}, {"imageTag": ""}]},
        [("imageIds.2.member.imageTag", "Member must have length greater than or equal to 1")],
    ),
    (
        "repositoryNames-null-item",
        "DescribeRepositories",
        {"repositoryNames": ["repo", None]},
        [("repositoryNames.2.member", "Member must not be null")],
    ),
    (
        "imageTag-max",
        "PutImage",
        {"repositoryName": "repo", "imageManifest": "{}", "imageTag": "t" * 301},
        [("imageTag", "Member must have length less than or equal to 300")],
    ),
    (
        "imageManifest-min",
        "PutImage",
        {"repositoryName": "repo", "imageManifest": ""},
        [("imageManifest", "Member must have length greater than or equal to 1")],
    ),
    (
        "partFirstByte-min",
        "UploadLayerPart",
        {
            "repositoryName": "repo",
            "uploadId": UPLOAD_ID,
            "partFirstByte": -1,
            "partLastByte": 0,
            "layerPartBlob": "",
        },
        [("partFirstByte", "Member must have value greater than or equal to 0")],
    ),
    (
        "uploadId-and-digest-pattern",
        "CompleteLayerUpload",
        {"repositoryName": "repo", "uploadId": "nope", "layerDigests": ["sha256:ab", "bad"]},
        [
            ("uploadId", regex(SHAPES["UploadId"]["pattern"])),
            ("layerDigests.2.member", regex(SHAPES["LayerDigest"]["pattern"])),
        ],
    ),
    (
        "layerDigests-item-max",
        "BatchCheckLayerAvailability",
        {"repositoryName": "repo", "layerDigests": ["x" * 1001]},
        [("layerDigests.1.member", "Member must have length less than or equal to 1000")],
    ),
    (
        "catalogData-two",
        "CreateRepository",
        {
            "repositoryName": "repo",
            "catalogData": {"description": "d" * 1025, "architectures": ["ARM", "x86", ""]},
        },
        [
            ("catalogData.description", "Member must have length less than or equal to 1024"),
            (
                "catalogData.architectures.3.member",
                "Member must have length greater than or equal to 1",
            ),
        ],
    ),
    (
        "catalogData-many",
        "PutRepositoryCatalogData",
        {
            "repositoryName": "Repo",
            "catalogData": {
                "architectures": ["a" * 51] * 51,
                "operatingSystems": ["Linux", "o" * 51],
                "logoImageBlob": zeros_b64(512001),
                "aboutText": "t" * 25601,
                "usageText": "u" * 25600,
            },
        },
        [
            ("repositoryName", regex(NAME_PATTERN)),
            ("catalogData.architectures", "Member must have length less than or equal to 50"),
            *[
                (
                    f"catalogData.architectures.{i}.member",
                    "Member must have length less than or equal to 50",
                )
                for i in range(1, 52)
            ],
            (
                "catalogData.operatingSystems.2.member",
                "Member must have length less than or equal to 50",
            ),
            ("catalogData.logoImageBlob", "Member must have length less than or equal to 512000"),
            ("catalogData.aboutText", "Member must have length less than or equal to 25600"),
        ],
    ),
    (
        "tags",
        "TagResource",
        {"resourceArn": "", "tags": [{"Key": "", "Value": "v" * 257}, {"Key": "k"}]},
        [
            ("resourceArn", "Member must have length greater than or equal to 1"),
            ("tags.1.member.Key", "Member must have length greater than or equal to 1"),
            ("tags.1.member.Value", "Member must have length less than or equal to 256"),
        ],
    ),
    (
        "tagKeys-max",
        "UntagResource",
        {"resourceArn": "arn", "tagKeys": ["k"] * 201},
        [("tagKeys", "Member must have length less than or equal to 200")],
    ),
    (
        "displayName-max",
        "PutRegistryCatalogData",
        {"displayName": "n" * 101},
        [("displayName", "Member must have length less than or equal to 100")],
    ),
    (
        "policyText-max",
        "SetRepositoryPolicy",
        {"repositoryName": "repo", "policyText": "p" * 10241},
        [("policyText", "Member must have length less than or equal to 10240")],
    ),
]


@pytest.mark.parametrize(
    ("operation", "body", "expected"),
    [pytest.param(op, body, exp, id=case) for case, op, body, exp in CONSTRAINT_CASES],
)
def test_constraint_violations(
    operation: str, body: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    expect_violations(constraint_error(operation, body), expected)


def upload_part(blob: object) -> dict[str, Any]:
    return {
        "repositoryName": "repo",
        "uploadId": UPLOAD_ID,
        "partFirstByte": 0,
        "partLastByte": 0,
        "layerPartBlob": blob,
    }


def test_layer_part_blob_max_is_on_decoded_bytes() -> None:
    limit = 20971520
    result = validate_input("UploadLayerPart", upload_part(zeros_b64(limit)))
    assert len(result["layerPartBlob"]) == limit
    error = constraint_error("UploadLayerPart", upload_part(zeros_b64(limit + 1)))
    assert error.message == (
        "Invalid parameter at 'layerPartBlob' failed to satisfy constraint: "
        "'Member must have length less than or equal to 20971520'"
    )


def test_exact_messages_as_ecr_words_them() -> None:
    # The texts the real service returns, character for character.
    assert constraint_error("CreateRepository", {"repositoryName": "MyRepo"}).message == (
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
        "'must satisfy regular expression "
        "'(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''"
    )
    error = constraint_error(
        "BatchDeleteImage", {"repositoryName": "repo", "imageIds": [{"imageTag": "t"}] * 101}
    )
    assert error.message == (
        "Invalid parameter at 'imageIds' failed to satisfy constraint: "
        "'Member must have length less than or equal to 100'"
    )
    assert constraint_error("DescribeRepositories", {"maxResults": 1001}).message == (
        "Invalid parameter at 'maxResults' failed to satisfy constraint: "
        "'Member must have value less than or equal to 1000'"
    )
    assert constraint_error("DescribeImages", {}).message == (
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
        "'Member must not be null'"
    )
    error = constraint_error(
        "CreateRepository",
        {"repositoryName": "repo", "catalogData": {"description": "d", "architectures": [""]}},
    )
    assert error.message == (
        "Invalid parameter at 'catalogData.architectures.1.member' failed to satisfy "
        "constraint: 'Member must have length greater than or equal to 1'"
    )


def test_only_first_violation_is_the_message() -> None:
    error = constraint_error("CreateRepository", {"repositoryName": "A" * 206})
    assert error.message == (
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
        "'Member must have length less than or equal to 205'"
    )
    assert len(error.violations) == 2
    assert error.violations[0] == error.message
    assert str(error) == f"InvalidParameterException: {error.message}"


def test_serialization_error_has_no_violations() -> None:
    with pytest.raises(ValidationError) as info:
        validate_input("DescribeRepositories", {"maxResults": "10"})
    assert info.value.violations == []


def test_valid_request_decodes_blobs_and_drops_unknown_members() -> None:
    body = upload_part(base64.b64encode(b"abcd").decode())
    body["registryId"] = "my-alias"
    body["somethingNew"] = {"ignored": [1, 2]}
    assert validate_input("UploadLayerPart", body) == {
        "registryId": "my-alias",
        "repositoryName": "repo",
        "uploadId": UPLOAD_ID,
        "partFirstByte": 0,
        "partLastByte": 0,
        "layerPartBlob": b"abcd",
    }
    result = validate_input(
        "CreateRepository",
        {
            "repositoryName": "team/app",
            "catalogData": {"logoImageBlob": "iVBORw==", "architectures": ["ARM 64"]},
            "tags": [{"Key": "k", "Value": ""}],
        },
    )
    assert result["catalogData"] == {"logoImageBlob": b"\x89PNG", "architectures": ["ARM 64"]}
    assert result["tags"] == [{"Key": "k", "Value": ""}]


def test_optional_null_is_dropped_and_integral_float_is_int() -> None:
    result = validate_input("DescribeRepositories", {"maxResults": 5.0, "nextToken": None})
    assert result == {"maxResults": 5}
    assert type(result["maxResults"]) is int


@pytest.mark.parametrize("operation", ["GetAuthorizationToken", "GetRegistryCatalogData"])
def test_operations_without_members_accept_any_object(operation: str) -> None:
    assert validate_input(operation, {}) == {}
    assert validate_input(operation, {"x": 1}) == {}


SERIALIZATION_CASES: list[tuple[str, str, object, str]] = [
    ("body-list", "DescribeRepositories", [], "Start of list found where not expected"),
    (
        "body-string",
        "DescribeRepositories",
        "x",
        "STRING_VALUE can not be converted to a Structure",
    ),
    ("body-null", "GetAuthorizationToken", None, "NULL_VALUE can not be converted to a Structure"),
    (
        "int-from-string",
        "DescribeRepositories",
        {"maxResults": "10"},
        "STRING_VALUE can not be converted to an Integer",
    ),
    (
        "int-from-bool",
        "DescribeRepositories",
        {"maxResults": True},
        "BOOLEAN_VALUE can not be converted to an Integer",
    ),
    (
        "int-from-fraction",
        "DescribeRepositories",
        {"maxResults": 1.5},
        "NUMBER_VALUE can not be converted to an Integer",
    ),
    (
        "int-overflow",
        "DescribeRepositories",
        {"maxResults": 2**31},
        "NUMBER_VALUE can not be converted to an Integer",
    ),
    (
        "int-nan",
        "DescribeRepositories",
        {"maxResults": float("nan")},
        "NUMBER_VALUE can not be converted to an Integer",
    ),
    (
        "int-from-list",
        "DescribeRepositories",
        {"maxResults": [1]},
        "Start of list found where not expected",
    ),
    (
        "string-from-list",
        "CreateRepository",
        {"repositoryName": ["repo"]},
        "Start of list found where not expected",
    ),
    (
        "string-from-number",
        "CreateRepository",
        {"repositoryName": 5},
        "NUMBER_VALUE can not be converted to a String",
    ),
    (
        "string-from-object",
        "CreateRepository",
        {"repositoryName": {}},
        "Start of structure or map found where not expected",
    ),
    (
        "list-from-string",
        "DescribeRepositories",
        {"repositoryNames": "repo"},
        "STRING_VALUE can not be converted to a List",
    ),
    (
        "list-from-object",
        "DescribeRepositories",
        {"repositoryNames": {"a": 1}},
        "Start of structure or map found where not expected",
    ),
    (
        "list-item",
        "DescribeRepositories",
        {"repositoryNames": ["repo", 7]},
        "NUMBER_VALUE can not be converted to a String",
    ),
    (
        "structure-from-string",
        "CreateRepository",
        {"repositoryName": "repo", "catalogData": "x"},
        "STRING_VALUE can not be converted to a Structure",
    ),
    (
        "nested-structure-from-list",
        "BatchDeleteImage",
        {"repositoryName": "repo", "imageIds": [[]]},
        "Start of list found where not expected",
    ),
    (
        "bool-from-string",
        "DeleteRepository",
        {"repositoryName": "repo", "force": "true"},
        "STRING_VALUE can not be converted to a Boolean",
    ),
    (
        "bool-from-number",
        "DeleteRepository",
        {"repositoryName": "repo", "force": 1},
        "NUMBER_VALUE can not be converted to a Boolean",
    ),
    (
        "long-from-fraction",
        "UploadLayerPart",
        {**upload_part(""), "partFirstByte": 0.5},
        "NUMBER_VALUE can not be converted to a Long",
    ),
    (
        "long-overflow",
        "UploadLayerPart",
        {**upload_part(""), "partLastByte": 2**63},
        "NUMBER_VALUE can not be converted to a Long",
    ),
    (
        "blob-from-number",
        "UploadLayerPart",
        upload_part(123),
        "NUMBER_VALUE can not be converted to a Blob",
    ),
    (
        "blob-bad-chars",
        "UploadLayerPart",
        upload_part("not base64!"),
        "Invalid Base64 encoded value",
    ),
    ("blob-no-padding", "UploadLayerPart", upload_part("YWJjZA"), "Invalid Base64 encoded value"),
    ("blob-non-ascii", "UploadLayerPart", upload_part("é"), "Invalid Base64 encoded value"),
    (
        "nested-blob",
        "PutRepositoryCatalogData",
        {"repositoryName": "repo", "catalogData": {"logoImageBlob": "@@@@"}},
        "Invalid Base64 encoded value",
    ),
    (
        "type-error-wins-over-constraints",
        "DescribeImages",
        {"repositoryName": "MyRepo", "maxResults": "x"},
        "STRING_VALUE can not be converted to an Integer",
    ),
]


@pytest.mark.parametrize(
    ("operation", "body", "message"),
    [pytest.param(op, body, msg, id=case) for case, op, body, msg in SERIALIZATION_CASES],
)
def test_serialization_errors(operation: str, body: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_input(operation, body)
    assert info.value.code == "SerializationException"
    assert info.value.message == message


def test_unknown_operation_is_key_error() -> None:
    with pytest.raises(KeyError):
        validate_input("GetPremiumRepositoryCatalogData", {})


def test_enum_and_map_via_synthetic_shapes() -> None:
    # No ecr-public input uses enums or maps, so exercise those paths with a tiny model.
    shapes = {
        "Top": {
            "type": "structure",
            "members": {"status": {"shape": "Status"}, "labels": {"shape": "Labels"}},
        },
        "Status": {"type": "string", "enum": ["ACTIVE", "PENDING"]},
        "Labels": {"type": "map", "key": {"shape": "Key"}, "value": {"shape": "Val"}, "max": 1},
        "Key": {"type": "string", "min": 2},
        "Val": {"type": "integer", "max": 9},
    }
    checker = _Checker(shapes)
    value = {"status": "GONE", "labels": {"k": 10, "kk": 1}}
    assert checker.check("Top", value, "") == value
    assert checker.errors == [
        violation("status", "Member must satisfy enum value set: [ACTIVE, PENDING]"),
        violation("labels", "Member must have length less than or equal to 1"),
        violation("labels.k.key", "Member must have length greater than or equal to 2"),
        violation("labels.k.value", "Member must have value less than or equal to 9"),
    ]


def test_iter_constraints_covers_all_operations() -> None:
    constraints = list(iter_constraints())
    assert len(OPERATIONS) == 23
    assert {op for op, _, _ in constraints} == OPERATIONS
    assert {kind for _, _, kind in constraints} <= KINDS
    assert len(constraints) == len(set(constraints))
    members = {op for op, path, _ in constraints if path}
    assert OPERATIONS - members == {"GetAuthorizationToken", "GetRegistryCatalogData"}
    for expected in [
        ("CreateRepository", "", "type"),
        ("CreateRepository", "repositoryName", "required"),
        ("CreateRepository", "repositoryName", "pattern"),
        ("CreateRepository", "repositoryName", "max"),
        ("CreateRepository", "catalogData.architectures.member", "min"),
        ("BatchDeleteImage", "imageIds.member.imageTag", "max"),
        ("DescribeImages", "maxResults", "min"),
        ("UploadLayerPart", "partFirstByte", "min"),
        ("UploadLayerPart", "layerPartBlob", "max"),
        ("TagResource", "tags.member.Key", "type"),
    ]:
        assert expected in constraints
    # A minimum length of 0 can never be violated, so it is not listed.
    assert ("UploadLayerPart", "layerPartBlob", "min") not in constraints
    assert ("TagResource", "tags.member.Value", "min") not in constraints


# Generated cases: one violation per constraint that iter_constraints() reports, so every
# constraint in the model is exercised and iter_constraints' paths match the error paths.
VALID_BY_SHAPE = {
    "RepositoryName": "repo",
    "RegistryId": "123456789012",
    "UploadId": UPLOAD_ID,
    "LayerDigest": "sha256:ab",
}
NUMERIC = {"integer", "long", "float", "double"}


def valid_value(shape_name: str) -> Any:
    shape = SHAPES[shape_name]
    kind = shape["type"]
    if shape_name in VALID_BY_SHAPE:
        return VALID_BY_SHAPE[shape_name]
    if kind == "structure":
        required = shape.get("required", [])
        return {n: valid_value(r["shape"]) for n, r in shape["members"].items() if n in required}
    if kind == "list":
        return [valid_value(shape["member"]["shape"])] * shape.get("min", 0)
    if kind == "string":
        assert "pattern" not in shape and "enum" not in shape, shape_name
        return "x" * max(shape.get("min", 0), 1)
    if kind == "blob":
        return zeros_b64(shape.get("min", 0))
    if kind == "boolean":
        return True
    assert kind in NUMERIC, kind
    return max(shape.get("min", 1), 1)


def bad_value(shape_name: str, kind: str) -> Any:
    shape = SHAPES[shape_name]
    shape_type = shape["type"]
    if kind == "required":
        return None
    if kind == "type":
        return 12 if shape_type in {"string", "blob", "timestamp"} else "x"
    if kind == "pattern":
        return "!" * max(shape.get("min", 0), 1)
    if kind == "enum":
        return "NOT_AN_ENUM_VALUE"
    size = shape["min"] - 1 if kind == "min" else shape["max"] + 1
    if shape_type in NUMERIC:
        return size
    if shape_type == "list":
        return [valid_value(shape["member"]["shape"])] * size
    if shape_type == "blob":
        return zeros_b64(size)
    return "x" * size


def build(shape_name: str, parts: list[str], kind: str) -> Any:
    """A valid value of ``shape_name`` except at ``parts``, which breaks ``kind``."""
    if not parts:
        return bad_value(shape_name, kind)
    shape = SHAPES[shape_name]
    head, rest = parts[0], parts[1:]
    if shape["type"] == "list":
        return [build(shape["member"]["shape"], rest, kind)]
    value = valid_value(shape_name)
    value[head] = build(shape["members"][head]["shape"], rest, kind)
    return value


def target_shape(operation: str, parts: list[str]) -> dict[str, Any]:
    shape = SHAPES[SERVICE_MODEL["operations"][operation]["input"]["shape"]]
    for part in parts:
        ref = shape["member"] if shape["type"] == "list" else shape["members"][part]
        shape = SHAPES[ref["shape"]]
    return shape


def phrase(shape: dict[str, Any], kind: str) -> str:
    what = "value" if shape["type"] in NUMERIC else "length"
    return {
        "required": "Member must not be null",
        "min": f"Member must have {what} greater than or equal to {shape.get('min')}",
        "max": f"Member must have {what} less than or equal to {shape.get('max')}",
        "pattern": regex(str(shape.get("pattern"))),
        "enum": f"Member must satisfy enum value set: [{', '.join(shape.get('enum', []))}]",
    }[kind]


@pytest.mark.parametrize(
    ("operation", "path", "kind"),
    [pytest.param(*c, id=":".join(c)) for c in iter_constraints()],
)
def test_every_model_constraint_is_enforced(operation: str, path: str, kind: str) -> None:
    parts = path.split(".") if path else []
    input_shape = SERVICE_MODEL["operations"][operation]["input"]["shape"]
    body = build(input_shape, parts, kind)
    with pytest.raises(ValidationError) as info:
        validate_input(operation, body)
    if kind == "type":
        assert info.value.code == "SerializationException"
        return
    assert info.value.code == "InvalidParameterException"
    concrete = path.replace(".member", ".1.member")
    expect_violations(info.value, [(concrete, phrase(target_shape(operation, parts), kind))])
