"""The embedded engine: a GGUF chat model run by llama.cpp through llama-cpp-python."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import KnownError, ModelError
from app.core.types import SamplingParams
from app.llm import chat_template
from app.llm.cpu import load_backends, use_extra_buffers
from app.llm.engine import EngineInfo
from app.llm.gguf import read_gguf

# Template end markers of common families; llama.cpp also stops on the model's end-of-generation
# tokens, these catch models whose GGUF marks them wrongly.
STOP_STRINGS = ["<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>"]
_PATCH_LOCK = threading.Lock()


def default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _new_llama(kwargs: dict[str, Any], extra_buffers: bool) -> Any:
    """Construct ``Llama``; with ``extra_buffers=False`` its model params get
    ``use_extra_bufts = False``, which llama-cpp-python 0.3.36 has no argument for."""
    import llama_cpp
    import llama_cpp.llama_cpp as lib

    if extra_buffers:
        return llama_cpp.Llama(**kwargs)
    original = lib.llama_model_default_params

    def params_without_repack() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    with _PATCH_LOCK:
        lib.llama_model_default_params = params_without_repack
        try:
            return llama_cpp.Llama(**kwargs)
        finally:
            lib.llama_model_default_params = original


class LlamaCppEngine:
    """One loaded model (optionally with a LoRA adapter); drafts run one at a time."""

    def __init__(
        self,
        model_path: Path,
        *,
        info: EngineInfo,
        adapter_path: Path | None = None,
        n_threads: int | None = None,
        n_ctx: int = 4096,
        verbose: bool = False,
    ) -> None:
        gguf = read_gguf(model_path)
        if gguf.is_adapter:
            raise ModelError(
                f"{model_path} is a LoRA adapter, not a chat model.",
                "Choose a base model, and pick the adapter separately.",
                path=model_path,
            )
        if adapter_path is not None and not read_gguf(adapter_path).is_adapter:
            raise ModelError(f"{adapter_path} is not a LoRA adapter GGUF.", path=adapter_path)
        import llama_cpp

        self.info = info
        self.path = model_path
        self.threads = n_threads or default_threads()
        load_backends()
        system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        self.extra_buffers, self.extra_buffers_reason = use_extra_buffers(system_info)
        kwargs: dict[str, Any] = {
            "model_path": str(model_path),
            "n_ctx": min(n_ctx, gguf.context_length or n_ctx),
            "n_threads": self.threads,
            "n_threads_batch": self.threads,
            "n_batch": 512,
            "flash_attn": False,  # measured slower for decode on CPU (DESIGN §3)
            "verbose": verbose,
        }
        if adapter_path is not None:
            kwargs["lora_path"] = str(adapter_path)
        started = time.perf_counter()
        try:
            self._llm = _new_llama(kwargs, self.extra_buffers)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"llama.cpp could not load {model_path}: {exc}.",
                "The file may be damaged or use an architecture this llama.cpp does not know. "
                "Run 'replydesk models verify', or choose another model.",
                path=model_path,
            ) from exc
        self.load_ms = (time.perf_counter() - started) * 1000
        self.n_ctx: int = self._llm.n_ctx()
        self._template = gguf.chat_template
        self._bos = self._token_text(self._llm.token_bos())
        self._eos = self._token_text(self._llm.token_eos())
        self._add_bos = bool(gguf.metadata.get("tokenizer.ggml.add_bos_token", False))
        self._lock = threading.Lock()
        self._prompt_tokens = 0

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self._llm.detokenize([token], special=True)).decode("utf-8", "replace")

    def render(self, messages: list[dict[str, str]]) -> str:
        return chat_template.render(
            self._template, messages, bos_token=self._bos, eos_token=self._eos
        )

    def tokenize(self, prompt: str) -> list[int]:
        tokens: list[int] = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        bos = self._llm.token_bos()
        if self._add_bos and bos >= 0 and (not tokens or tokens[0] != bos):
            tokens.insert(0, bos)
        return tokens

    def prompt_tokens(self) -> int:
        return self._prompt_tokens

    def stream(
        self,
        messages: list[dict[str, str]],
        params: SamplingParams,
        cancel: threading.Event,
    ) -> Iterator[str]:
        tokens = self.tokenize(self.render(messages))
        room = self.n_ctx - len(tokens)
        if room < 32:
            raise KnownError(
                f"The prompt has {len(tokens):,} tokens but the model's context holds "
                f"{self.n_ctx:,}.",
                "Shorten the business profile or knowledge snippets, or raise the context size "
                "in Settings.",
            )
        with self._lock:
            self._prompt_tokens = len(tokens)
            completion = self._llm.create_completion(
                tokens,
                max_tokens=min(params.max_tokens, room),
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=params.top_k,
                repeat_penalty=params.repeat_penalty,
                seed=params.seed,
                stop=STOP_STRINGS,
                stream=True,
            )
            try:
                for chunk in completion:
                    if cancel.is_set():
                        break
                    text = chunk["choices"][0]["text"]
                    if text:
                        yield text
            finally:
                completion.close()

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None
