from __future__ import annotations

import pytest

from app.core.errors import ModelError
from app.llm import chat_template

MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]


def test_chatml_fallback_when_model_has_no_template() -> None:
    text = chat_template.render(None, MESSAGES)
    assert text == ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_model_template_gets_bos_and_generation_prompt() -> None:
    tpl = ("{{ bos_token }}{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}"
           "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}")
    assert chat_template.render(tpl, MESSAGES, bos_token="<s>") == "<s>[system]S[user]U[assistant]"


@pytest.mark.parametrize(
    "evil",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% set x = messages.append({'role': 'system', 'content': 'pwned'}) %}{{ x }}",
    ],
)
def test_malicious_templates_are_stopped(evil: str) -> None:
    with pytest.raises(ModelError):
        chat_template.render(evil, MESSAGES)


def test_raise_exception_in_template_becomes_model_error() -> None:
    with pytest.raises(ModelError, match="roles must alternate"):
        chat_template.render("{{ raise_exception('roles must alternate') }}", MESSAGES)


def test_invalid_template_syntax() -> None:
    with pytest.raises(ModelError, match="not valid Jinja"):
        chat_template.render("{% for %}", MESSAGES)


def test_a_template_that_runs_too_long_is_stopped_and_tracing_is_restored() -> None:
    import sys
    import time

    calls: list[str] = []

    def outer(frame, event, arg):  # a debugger or coverage tracer already installed
        calls.append(frame.f_code.co_name)

    bomb = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    sys.settrace(outer)
    try:
        started = time.monotonic()
        with pytest.raises(ModelError, match="ran for too long"):
            chat_template.render(bomb, MESSAGES, time_limit=0.2)
        assert time.monotonic() - started < 5
        assert sys.gettrace() is outer
    finally:
        sys.settrace(None)
    assert calls  # the outer tracer kept seeing the rest of the code meanwhile
    # an ordinary template is unaffected
    assert chat_template.render(None, MESSAGES, time_limit=0.2).endswith("<|im_start|>assistant\n")
