"""The Bot API's wire format: reading parameters from any body PTB may send, and errors.

PTB posts `application/x-www-form-urlencoded` with every non-string value JSON-encoded
(reply_markup arrives as a JSON string, numbers as digits); other clients post JSON
bodies or multipart forms. Params accepts all of them and coerces on read.
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request


class ApiError(Exception):
    """A Bot API failure, answered as {"ok": false, "error_code": ..., "description": ...}."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    """A 400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {reason}")


async def read_params(request: Request) -> Params:
    """Merge the query string and the body (JSON, urlencoded or multipart) into Params."""
    values: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body:
        values.update(_parse_body(request.headers.get("content-type", ""), body))
    return Params(values)


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON body") from exc
        if not isinstance(decoded, dict):
            raise bad_request("JSON body must be an object")
        return decoded
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    # python-multipart is not a dependency; the stdlib email parser reads form fields.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if part.get_filename() is None and isinstance(payload, bytes):
            fields[name] = payload.decode(part.get_content_charset() or "utf-8")
        else:
            fields[name] = payload
    return fields


class Params:
    """A method's parameters; values are JSON-native or the strings of a form."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            if required:
                raise bad_request(f"{name} is empty")
            return None
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f"invalid {name} specified") from exc

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f"invalid {name} specified") from exc

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def structure(self, name: str) -> Any:
        """A JSON object or array, given either decoded or as a JSON string."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(f"can't parse {name} JSON object") from exc

    def chat_id(self, *, required: bool = True) -> int | str | None:
        """An integer id or an @username, as the Bot API accepts."""
        value = self.values.get("chat_id")
        if isinstance(value, str) and value.startswith("@"):
            return value
        return self.integer("chat_id", required=required)
