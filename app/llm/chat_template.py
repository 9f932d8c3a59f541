"""Rendering a GGUF's chat template safely.

Chat templates are Jinja code that arrives inside a model file the user downloaded, so they run in
an immutable sandbox (no attribute tricks, no file or module access).  Models without a template
get ChatML, which most small instruct models understand.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from app.core.errors import ModelError

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# Larger results of * and ** in a template are refused: "{{ 'x' * 10**12 }}" would exhaust memory.
_MAX_REPEAT = 1_000_000
_MAX_EXPONENT = 1024
# A real template renders in about a millisecond; nested loops over range() (the sandbox allows
# 100,000 per range) would run for hours.  Rendering stops after this long.
RENDER_SECONDS = 2.0


def _raise(message: str) -> None:
    raise ModelError(f"The model's chat template refused the conversation: {message}")


@lru_cache(maxsize=1)
def _sandbox() -> Any:
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > _MAX_EXPONENT:
                raise SecurityError(f"the exponent {right} is too large")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, str | list | tuple) and isinstance(n, int) and (
                            len(seq) * n > _MAX_REPEAT):
                        raise SecurityError("a repetition that large is refused")
            return super().call_binop(context, operator, left, right)

    return Sandbox


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    from jinja2 import TemplateError

    env = _sandbox()(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except TemplateError as exc:
        raise ModelError(
            f"The model's chat template is not valid Jinja: {exc}.",
            "Pick another model, or a GGUF converted with a current llama.cpp.",
        ) from exc


class _Deadline:
    """A line tracer for the template's own code only (Jinja compiles it as ``<template>``), so
    a runaway loop is stopped without slowing anything else; any tracer already installed (a
    debugger, coverage) keeps running for the rest of the code and is put back afterwards."""

    def __init__(self, seconds: float) -> None:
        import time

        self._clock = time.monotonic
        self._until = self._clock() + seconds
        self._ticks = 0
        self._previous: Any = None

    def __enter__(self) -> _Deadline:
        import sys

        self._previous = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc: object) -> None:
        import sys

        sys.settrace(self._previous)

    def _global(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == "<template>":
            return self._local
        return self._previous(frame, event, arg) if self._previous else None

    def _local(self, frame: Any, event: str, arg: Any) -> Any:
        self._ticks += 1
        if self._ticks % 1024 == 0 and self._clock() > self._until:
            from jinja2.exceptions import SecurityError

            raise SecurityError("it ran for too long (an endless or enormous loop)")
        return self._local


def render(
    template: str | None,
    messages: list[dict[str, str]],
    *,
    bos_token: str = "",
    eos_token: str = "",
    time_limit: float = RENDER_SECONDS,
) -> str:
    from jinja2.exceptions import SecurityError

    try:
        compiled = _compile(template or CHATML)
        with _Deadline(time_limit):
            return str(compiled.render(
                messages=messages,
                add_generation_prompt=True,
                bos_token=bos_token,
                eos_token=eos_token,
            ))
    except SecurityError as exc:
        raise ModelError(
            "The model's chat template tried something unsafe and was stopped: "
            f"{str(exc).rstrip('.')}.",
            "Do not use this model file; get the model from a source you trust.",
        ) from exc
    except ModelError:
        raise
    except Exception as exc:  # the template is code from the model file: any failure is its own
        raise ModelError(
            f"The model's chat template failed: {str(exc).rstrip('.')}.",
            "Pick another model, or a GGUF converted with a current llama.cpp.",
        ) from exc
