"""Decoding a Bot API request (query string, JSON, form or multipart body) into parameters."""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import Any
from urllib.parse import parse_qsl

from bot.standin.values import BotAPIError, JSONDict

_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "query",
        "data",
        "id",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "business_connection_id",
        "url",
        "title",
        "description",
        "short_description",
        "name",
        "parse_mode",
        "next_offset",
        "switch_pm_text",
        "switch_pm_parameter",
        "language_code",
        "emoji",
        "secret_token",
        "ip_address",
        "file_id",
        "custom_emoji_id",
        "message_effect_id",
        "action",
        "question",
        "explanation",
        "first_name",
        "last_name",
        "phone_number",
        "address",
        "payload",
        "start_parameter",
    }
)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _decode_value(key: str, value: str) -> Any:
    """PTB JSON-encodes every non-string parameter; undo that for the recorded call."""
    if key in _STRING_PARAMS or not value or value[0] not in '{["-0123456789tfn':
        return value
    try:
        return json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        return value


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    params: JSONDict = {}
    if not message.is_multipart():
        return params
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "content": raw,
            }
        else:
            charset = part.get_content_charset() or "utf-8"
            params[name] = _decode_value(name, raw.decode(charset, "replace"))
    return params


def parse_params(query: str, content_type: str, body: bytes) -> JSONDict:
    params: JSONDict = {
        key: _decode_value(key, value) for key, value in parse_qsl(query, keep_blank_values=True)
    }
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params
    if media_type == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise BotAPIError(400, "Bad Request: request body must be a JSON object")
        for key, value in decoded.items():
            params[key] = _decode_value(key, value) if isinstance(value, str) else value
    elif media_type == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    else:  # application/x-www-form-urlencoded, or unlabelled
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            params[key] = _decode_value(key, value)
    return params
