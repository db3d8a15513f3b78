"""OpenAI request parsing, the error object, and what a request asks of the engine.

Pure functions of the request body: nothing here touches the engine, so everything a client
can send is checked before a request is admitted, and every refusal is a 4xx with OpenAI's
error object (``{"error": {"message", "type", "param", "code"}}``).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from gigafactory.emulator import tokenizer

#: most stop sequences a request may give (OpenAI's limit).
MAX_STOP = 4
#: largest request body accepted [bytes] (a 1M-token prompt is about 4 MB of text).
MAX_BODY_BYTES = 16 * 1024 * 1024


class APIError(Exception):
    """A refusal, rendered as OpenAI's error object with ``status``."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, "invalid_request_error", param, code)


@dataclass(frozen=True)
class Ask:
    """What one request asks for, parsed and checked."""

    kind: str  # "chat" or "completion"
    model: str
    prompt_ids: tuple[int, ...]
    max_tokens: int | None
    min_tokens: int
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool
    ignore_eos: bool


def parse_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY_BYTES:
        raise APIError(413, f"request body larger than {MAX_BODY_BYTES} bytes", code="request_too_large")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise bad(f"We could not parse the JSON body of your request ({type(exc).__name__}).") from None
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    return body


def _int(body: dict, name: str, lo: int, hi: int | None = None) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad(f"'{name}' must be an integer", param=name, code="invalid_type")
    if v < lo or (hi is not None and v > hi):
        raise bad(f"'{name}' must be between {lo} and {hi}" if hi is not None else f"'{name}' must be >= {lo}", param=name,
                  code="invalid_value")
    return v


def _number(body: dict, name: str, lo: float, hi: float) -> None:
    v = body.get(name)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise bad(f"'{name}' must be a number between {lo:g} and {hi:g}", param=name, code="invalid_value")


def _bool(body: dict, name: str) -> bool:
    v = body.get(name)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise bad(f"'{name}' must be a boolean", param=name, code="invalid_type")
    return v


def _text_content(content: Any, i: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if not isinstance(p, dict) or p.get("type") != "text" or not isinstance(p.get("text"), str):
                raise bad("only text content parts ({'type': 'text', 'text': ...}) are supported", param=f"messages[{i}].content")
            parts.append(p["text"])
        return "".join(parts)
    raise bad("'content' must be a string or a list of text parts", param=f"messages[{i}].content", code="invalid_type")


#: roles a chat message may have.
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def chat_prompt(messages: Any) -> str:
    """The prompt the model sees: a fixed template, ``<|role|>\\ncontent\\n`` per message, then the
    assistant's turn (the served models' own templates add a few tokens more per message)."""
    if not isinstance(messages, list) or not messages:
        raise bad("'messages' must be a non-empty array", param="messages", code="invalid_type")
    out = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise bad("each message must be an object", param=f"messages[{i}]", code="invalid_type")
        role = msg.get("role")
        if role not in ROLES:
            raise bad(f"'role' must be one of {', '.join(ROLES)}", param=f"messages[{i}].role", code="invalid_value")
        out.append(f"<|{role}|>\n{_text_content(msg.get('content'), i)}\n")
    out.append("<|assistant|>\n")
    return "".join(out)


def completion_prompt(prompt: Any) -> tuple[int, ...]:
    if isinstance(prompt, str):
        return tuple(tokenizer.encode(prompt))
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        return completion_prompt(prompt[0])
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        if any(t < 0 or t > 2**31 for t in prompt):
            raise bad("token ids must be non-negative integers", param="prompt", code="invalid_value")
        return tuple(prompt)
    raise bad("'prompt' must be a string, an array of token ids, or an array of one of these (one prompt per request)",
              param="prompt", code="invalid_type")


def parse(kind: str, body: dict[str, Any]) -> Ask:
    """Check the fields of a chat or completion request (unknown fields are ignored, as vLLM does)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("you must provide a model parameter", param="model", code="invalid_type" if model is not None else None)
    if kind == "chat":
        ids = tuple(tokenizer.encode(chat_prompt(body.get("messages"))))
        max_tokens = _int(body, "max_completion_tokens", 1)
        if max_tokens is None:
            max_tokens = _int(body, "max_tokens", 1)
    else:
        if "prompt" not in body:
            raise bad("you must provide a prompt parameter", param="prompt")
        ids = completion_prompt(body["prompt"])
        max_tokens = _int(body, "max_tokens", 1)
    if not ids:
        raise bad("the prompt must hold at least one token", param="prompt" if kind != "chat" else "messages")
    n = _int(body, "n", 1)
    if n is not None and n != 1:
        raise bad("only n=1 is supported", param="n", code="invalid_value")
    for name, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1), ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2)):
        _number(body, name, lo, hi)
    _int(body, "seed", -(2**63), 2**64)
    min_tokens = _int(body, "min_tokens", 0) or 0
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,) if stop else ()
    elif isinstance(stop, list) and len(stop) <= MAX_STOP and all(isinstance(s, str) for s in stop):
        stops = tuple(s for s in stop if s)
    else:
        raise bad(f"'stop' must be a string or an array of at most {MAX_STOP} strings", param="stop", code="invalid_type")
    stream = _bool(body, "stream")
    so = body.get("stream_options")
    include_usage = False
    if so is not None:
        if not isinstance(so, dict):
            raise bad("'stream_options' must be an object", param="stream_options", code="invalid_type")
        if not stream:
            raise bad("'stream_options' is only allowed when 'stream' is true", param="stream_options")
        include_usage = _bool(so, "include_usage")
    return Ask(kind, model, ids, max_tokens, min_tokens, stops, stream, include_usage, _bool(body, "ignore_eos"))


def _unit(*parts: Any) -> float:
    h = hashlib.sha256(repr(parts).encode()).digest()
    return (int.from_bytes(h[:8], "big") + 0.5) / 2.0**64


@dataclass(frozen=True)
class Plan:
    """What the engine is asked to generate and what the client gets back."""

    output_tokens: int  # tokens the engine generates
    pieces: tuple[str, ...]  # text of each generated token as returned (a stop sequence cut out)
    finish_reason: str


def plan_output(ask: Ask, model: str, mean_output_tokens: float, limit: int) -> Plan:
    """Output length and text.  Without ``ignore_eos`` the model "stops" after a length drawn from an
    exponential distribution with the pool's mean output length (a deterministic draw from the
    prompt's hash); ``max_tokens`` (else the room left in the context) caps it, ``min_tokens``
    raises it; a stop sequence in the text ends it where it appears."""
    cap = ask.max_tokens if ask.max_tokens is not None else limit
    cap = max(1, min(cap, limit))
    if ask.ignore_eos:
        n, reason = cap, "length"
    else:
        natural = max(1, math.ceil(-math.log(_unit(model, ask.prompt_ids, "length")) * mean_output_tokens))
        n, reason = (natural, "stop") if natural <= cap else (cap, "length")
    n = max(n, min(ask.min_tokens, cap))
    offset = tokenizer.response_offset(model, list(ask.prompt_ids))
    pieces = tokenizer.response_tokens(offset, n)
    if ask.stop:
        text, bounds = "", []
        for p in pieces:
            text += p
            bounds.append(len(text))
        hits = [(text.find(s), s) for s in ask.stop if text.find(s) >= 0]
        if hits:
            at = min(h for h, _ in hits)
            end = min(len(text), at + max(len(s) for h, s in hits if h == at))
            k = next(i for i, b in enumerate(bounds) if b >= end) + 1  # the token that completes the stop sequence
            kept = []
            start = 0
            for i in range(k):
                kept.append(text[start:min(bounds[i], at)] if start < at else "")
                start = bounds[i]
            return Plan(k, tuple(kept), "stop")
    return Plan(n, tuple(pieces), reason)


def prefix_hashes(ids: tuple[int, ...], block: int) -> tuple[int, ...]:
    """Chained hashes of the prompt's full ``block``-token blocks (vLLM's prefix-cache keys)."""
    out, h = [], 0
    for i in range(0, len(ids) - block + 1, block):
        h = hash((h, ids[i:i + block]))
        out.append(h)
    return tuple(out)
