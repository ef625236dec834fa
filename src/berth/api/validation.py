"""Model-driven validation of ECR Public API request bodies.

Every check comes from the botocore ``ecr-public`` service model; nothing is copied by hand.
botocore only checks required/type/min client-side, so max, pattern and enum are ours to enforce.

Decoding (type) errors raise ``ValidationError("SerializationException", ...)`` at the first
problem, as AWS deserializes the whole body before validating it.  Texts:

* ``Start of list found where not expected`` -- a JSON array where no list is modelled.
* ``Start of structure or map found where not expected`` -- a JSON object where no structure
  or map is modelled.
* ``<TOKEN> can not be converted to <a Type>`` -- any other mismatch; TOKEN is
  ``STRING_VALUE``, ``NUMBER_VALUE``, ``BOOLEAN_VALUE`` or ``NULL_VALUE`` (a null body), Type is
  ``a String``, ``an Integer``, ``a Long``, ``a Boolean``, ``a Blob``, ``a Timestamp``,
  ``a List``, ``a Structure`` or ``a Map``.  ``true`` is not a number; a number with a fractional
  part, or out of 32/64-bit range, is not an Integer/Long (``5.0`` is accepted as ``5``).
* ``Invalid Base64 encoded value`` -- a blob string that is not strict, padded base64.

Constraint violations are all collected, each worded as ECR words it:
``Invalid parameter at '<path>' failed to satisfy constraint: '<phrase>'``.  Phrases:
``Member must not be null``, ``Member must have length greater/less than or equal to N``
(strings in code points, blobs in decoded bytes, lists and maps in entries), ``Member must have
value greater/less than or equal to N``, ``Member must satisfy enum value set: [A, B]``, and for
patterns (checked as a full match) ``must satisfy regular expression '<model pattern>'`` -- no
``Member``, as the real service words it.  A value that breaks several constraints gets one
entry per constraint, in the order min, max, pattern, enum.  ECR reports only the first, so the
raised ``ValidationError("InvalidParameterException", ...)`` has the first violation as its
message and all of them, in order, as its ``violations`` list.

Paths: structure members by name joined with ``.``; list items as ``<list>.<i>.member`` with ``i``
1-based (AWS's form, e.g. ``imageIds.1.member.imageTag``); map entries as ``<map>.<key>.key`` and
``<map>.<key>.value``.  ``iter_constraints`` uses the same paths without the index/key
(``imageIds.member.imageTag``); the request body itself is path ``''``.

Members are visited in model order.  Unknown members are dropped from the returned dict.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import botocore.loaders

SERVICE_MODEL: dict[str, Any] = botocore.loaders.Loader().load_service_model(
    "ecr-public", "service-2"
)
OPERATIONS: frozenset[str] = frozenset(SERVICE_MODEL["operations"])

_SHAPES: dict[str, Any] = SERVICE_MODEL["shapes"]
_INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_NUMERIC = frozenset({"integer", "long", "float", "double"})
_TYPE_NAMES = {
    "string": "a String",
    "integer": "an Integer",
    "long": "a Long",
    "float": "a Float",
    "double": "a Double",
    "boolean": "a Boolean",
    "blob": "a Blob",
    "timestamp": "a Timestamp",
    "list": "a List",
    "structure": "a Structure",
    "map": "a Map",
}


class ValidationError(Exception):
    """A request body the API rejects; ``code`` is the AWS error name (``__type``).

    ``violations`` lists every constraint violation found (empty for a SerializationException);
    ``message`` is what the API returns, only the first of them.
    """

    def __init__(self, code: str, message: str, violations: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.violations: list[str] = [] if violations is None else violations


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _type_error(value: object, type_name: str) -> ValidationError:
    if isinstance(value, list):
        text = "Start of list found where not expected"
    elif isinstance(value, dict):
        text = "Start of structure or map found where not expected"
    else:
        if value is None:
            token = "NULL_VALUE"
        elif isinstance(value, bool):
            token = "BOOLEAN_VALUE"
        elif isinstance(value, int | float):
            token = "NUMBER_VALUE"
        elif isinstance(value, str):
            token = "STRING_VALUE"
        else:  # not from json.loads, but name it rather than crash
            token = type(value).__name__
        text = f"{token} can not be converted to {_TYPE_NAMES.get(type_name, type_name)}"
    return ValidationError("SerializationException", text)


class _Checker:
    """One pass over a value: decodes it, raises on type errors, collects violations."""

    def __init__(self, shapes: Mapping[str, Any]) -> None:
        self.shapes = shapes
        self.errors: list[str] = []

    def fail(self, path: str, phrase: str) -> None:
        self.errors.append(
            f"Invalid parameter at '{path}' failed to satisfy constraint: '{phrase}'"
        )

    def bounds(self, shape: Mapping[str, Any], size: float, path: str) -> None:
        what = "value" if shape["type"] in _NUMERIC else "length"
        if "min" in shape and size < shape["min"]:
            self.fail(path, f"Member must have {what} greater than or equal to {shape['min']}")
        if "max" in shape and size > shape["max"]:
            self.fail(path, f"Member must have {what} less than or equal to {shape['max']}")

    def check(self, shape_name: str, value: object, path: str) -> Any:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            if not isinstance(value, dict):
                raise _type_error(value, kind)
            required = set(shape.get("required", ()))
            out: dict[str, Any] = {}
            for name, ref in shape.get("members", {}).items():
                sub = f"{path}.{name}" if path else name
                item = value.get(name)
                if item is not None:
                    out[name] = self.check(ref["shape"], item, sub)
                elif name in required:
                    self.fail(sub, "Member must not be null")
            return out
        if kind == "list":
            if not isinstance(value, list):
                raise _type_error(value, kind)
            self.bounds(shape, len(value), path)
            items = []
            for i, item in enumerate(value, 1):
                sub = f"{path}.{i}.member"
                if item is None:  # no list in this model is sparse
                    self.fail(sub, "Member must not be null")
                else:
                    items.append(self.check(shape["member"]["shape"], item, sub))
            return items
        if kind == "map":
            if not isinstance(value, dict):
                raise _type_error(value, kind)
            self.bounds(shape, len(value), path)
            entries = {}
            for key, item in value.items():
                self.check(shape["key"]["shape"], key, f"{path}.{key}.key")
                if item is None:
                    self.fail(f"{path}.{key}.value", "Member must not be null")
                else:
                    entries[key] = self.check(shape["value"]["shape"], item, f"{path}.{key}.value")
            return entries
        if kind == "string":
            if not isinstance(value, str):
                raise _type_error(value, kind)
            self.bounds(shape, len(value), path)
            if "\x00" in value:  # no member means NUL, and PostgreSQL cannot store it
                self.fail(path, "Member must not contain null characters")
            pattern = shape.get("pattern")
            if pattern is not None and not _compiled(pattern).fullmatch(value):
                self.fail(path, f"must satisfy regular expression '{pattern}'")
            enum = shape.get("enum")
            if enum is not None and value not in enum:
                self.fail(path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
            return value
        if kind == "blob":
            if not isinstance(value, str):
                raise _type_error(value, kind)
            try:
                data = base64.b64decode(value, validate=True)
            except ValueError:  # binascii.Error, or non-ASCII text
                raise ValidationError(
                    "SerializationException", "Invalid Base64 encoded value"
                ) from None
            self.bounds(shape, len(data), path)
            return data
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _type_error(value, kind)
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(value, kind)
        if kind in _INT_RANGES:
            low, high = _INT_RANGES[kind]
            if isinstance(value, float):
                if not value.is_integer():  # also rejects nan and inf
                    raise _type_error(value, kind)
                value = int(value)
            if not low <= value <= high:
                raise _type_error(value, kind)
        if kind in _NUMERIC:
            self.bounds(shape, value, path)
        return value  # double/float/timestamp: any JSON number


def _input_shape(operation: str) -> str | None:
    try:
        op = SERVICE_MODEL["operations"][operation]
    except KeyError:
        raise KeyError(operation) from None
    ref = op.get("input")
    return None if ref is None else str(ref["shape"])


def validate_input(operation: str, params: object) -> dict[str, Any]:
    """Check a decoded JSON body against ``operation``'s input shape.

    Returns a copy with only modelled members, blobs decoded to ``bytes``.  Raises ``KeyError``
    for an unknown operation and ``ValidationError`` for a bad body.
    """
    shape_name = _input_shape(operation)
    if not isinstance(params, dict):
        raise _type_error(params, "structure")
    if shape_name is None:
        return {}
    checker = _Checker(_SHAPES)
    result: dict[str, Any] = checker.check(shape_name, params, "")
    if checker.errors:
        raise ValidationError("InvalidParameterException", checker.errors[0], checker.errors)
    return result


def _walk(
    operation: str, shape_name: str, path: str, seen: frozenset[str]
) -> Iterator[tuple[str, str, str]]:
    shape = _SHAPES[shape_name]
    kind = shape["type"]
    yield operation, path, "type"
    # A length minimum of 0 can never fail, so it is not a constraint worth a test.
    if "min" in shape and (kind in _NUMERIC or shape["min"] > 0):
        yield operation, path, "min"
    for key in ("max", "pattern", "enum"):
        if key in shape:
            yield operation, path, key
    if shape_name in seen:  # recursive shapes: stop after one level
        return
    seen = seen | {shape_name}
    prefix = f"{path}." if path else ""
    if kind == "structure":
        required = set(shape.get("required", ()))
        for name, ref in shape.get("members", {}).items():
            if name in required:
                yield operation, prefix + name, "required"
            yield from _walk(operation, ref["shape"], prefix + name, seen)
    elif kind == "list":
        yield from _walk(operation, shape["member"]["shape"], f"{path}.member", seen)
    elif kind == "map":
        yield from _walk(operation, shape["key"]["shape"], f"{path}.key", seen)
        yield from _walk(operation, shape["value"]["shape"], f"{path}.value", seen)


def iter_constraints() -> Iterator[tuple[str, str, str]]:
    """Yield ``(operation, member path, kind)`` for every input constraint in the model.

    Kinds: required, min, max, pattern, enum, type.  Every operation yields at least
    ``(op, '', 'type')``: its body must be a JSON object.
    """
    for operation in sorted(OPERATIONS):
        shape_name = _input_shape(operation)
        if shape_name is None:
            yield operation, "", "type"
        else:
            yield from _walk(operation, shape_name, "", frozenset())
