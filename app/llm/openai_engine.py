"""Drafting through an OpenAI-compatible chat endpoint (llama.cpp's server, vLLM, LM Studio).

For businesses that outgrow one machine: the same drafting service streams from a shared server
instead of the embedded model.  Only the standard library is used (HTTP + server-sent events), so
the app needs no extra dependency for it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from app.core.errors import KnownError
from app.core.types import SamplingParams
from app.llm.engine import EngineInfo


class RemoteEngineError(KnownError):
    """The inference server could not be reached or broke off mid-draft."""


class OpenAIChatEngine:
    def __init__(self, base_url: str, model: str = "", *, api_key: str = "",
                 timeout: float = 60.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise KnownError(
                f"The inference server address {base_url!r} is not an http(s) URL.",
                "Use something like http://127.0.0.1:8000/v1 in Settings.",
            )
        self.base_url = base_url.rstrip("/")
        self.model = model or self._first_model()
        self.api_key = api_key
        self.timeout = timeout
        digest = hashlib.sha256(f"{self.base_url}|{self.model}".encode()).hexdigest()
        self.info = EngineInfo(model_name=f"{self.model} @ {self.base_url}",
                               model_sha256=f"remote-{digest[:56]}")
        self._prompt_tokens = 0

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if getattr(self, "api_key", ""):
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=getattr(self, "timeout", 60.0))
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise RemoteEngineError(
                f"The inference server at {self.base_url} answered {exc.code}: {detail}",
                "Check the model name and the server's log.",
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteEngineError(
                f"Cannot reach the inference server at {self.base_url}: "
                f"{getattr(exc, 'reason', exc)}.",
                "Start the server, or switch back to the local model in Settings.",
            ) from exc

    def _first_model(self) -> str:
        with self._request("/models") as resp:
            models = json.load(resp).get("data") or []
        if not models:
            raise RemoteEngineError(f"The inference server at {self.base_url} lists no models.")
        return str(models[0]["id"])

    def prompt_tokens(self) -> int:
        return self._prompt_tokens

    def stream(
        self, messages: list[dict[str, str]], params: SamplingParams, cancel: threading.Event
    ) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "stream_options": {"include_usage": True},
        }
        if params.seed is not None:
            body["seed"] = params.seed
        resp = self._request("/chat/completions", body)
        self._prompt_tokens = 0
        finished = False  # a finish_reason came: the reply is complete even without [DONE]
        try:
            for raw in resp:
                if cancel.is_set():
                    return
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                chunk = json.loads(payload)
                usage = chunk.get("usage") or {}
                self._prompt_tokens = int(usage.get("prompt_tokens") or self._prompt_tokens)
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
                    finished = finished or bool(choice.get("finish_reason"))
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise self._broken(exc) from exc
        finally:
            resp.close()
        if not finished and not cancel.is_set():
            # A server killed mid-reply just closes the connection; only the missing end marker
            # tells a cut-off draft from a short one.
            raise self._broken("the stream ended before the reply was complete")

    def _broken(self, reason: object) -> RemoteEngineError:
        return RemoteEngineError(
            f"The connection to the inference server at {self.base_url} broke off "
            f"mid-draft: {reason}.",
            "The text written so far was kept. Check the server, then try again.",
        )

    def close(self) -> None:
        """Nothing to release: each draft is its own HTTP request."""
