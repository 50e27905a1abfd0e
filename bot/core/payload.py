"""A webhook delivery's JSON, decoded one way wherever it is read: by intake, which decides
whether to accept the delivery, and by the delivery's job, which must then be able to read
everything intake accepted (orjson nests up to 1,024 levels, where json.loads would run out of
recursion first: two decoders would disagree)."""

from __future__ import annotations

from typing import Any

import orjson


class BadPayload(ValueError):
    """The body is not a JSON object (its text says what is wrong, safe to show)."""


def decode(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:  # also invalid UTF-8 and nesting deeper than 1,024
        raise BadPayload(f"the body is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise BadPayload("the body is not a JSON object")
    return data
