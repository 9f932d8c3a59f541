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


def _raise(message: str) -> None:
    raise ModelError(f"The model's chat template refused the conversation: {message}")


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except TemplateError as exc:
        raise ModelError(
            f"The model's chat template is not valid Jinja: {exc}.",
            "Pick another model, or a GGUF converted with a current llama.cpp.",
        ) from exc


def render(
    template: str | None,
    messages: list[dict[str, str]],
    *,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    try:
        return str(
            _compile(template or CHATML).render(
                messages=messages,
                add_generation_prompt=True,
                bos_token=bos_token,
                eos_token=eos_token,
            )
        )
    except SecurityError as exc:
        raise ModelError(
            f"The model's chat template tried something unsafe and was stopped: {exc}.",
            "Do not use this model file; get the model from a source you trust.",
        ) from exc
    except TemplateError as exc:
        raise ModelError(f"The model's chat template failed: {exc}.") from exc
