"""Contract: the exports load with ``datasets`` and TRL trains on them unchanged (DESIGN §6).

Decisions go through the services (the scripted engine drafts; the replies are what an owner
might write). The default chat model is loaded from its GGUF by transformers, as training does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.services import feedback
from app.services.core import ReplyDesk
from app.services.decisions import decide
from tests.fakes import FakeEngine
from tests.unit.feedback.helpers import FakeRetriever, add_review, make_drafts

pytestmark = pytest.mark.slow

PREFERENCE_COLUMNS = ["prompt", "chosen", "rejected", "metadata"]
KTO_COLUMNS = ["prompt", "completion", "label", "metadata"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("trl")
    engine = FakeEngine()
    core = ReplyDesk(root / "data", engine_factory=lambda _c: engine,
                     retriever_factory=lambda _c: FakeRetriever())
    core.fake_engine = engine  # type: ignore[attr-defined]
    try:
        r1 = add_review(core, "The room was dirty. I'm Sarah, call me on 555-123-4567.")
        make_drafts(core, r1, "Thank you for your review.")
        decide(core, r1, "edit", final_text="Dear Sarah, we are sorry the room was not clean. "
               "Rooms are cleaned daily by 2 pm; we have spoken to housekeeping.")
        r2 = add_review(core, "Breakfast ran out at 9.", author="Tom Baker", rating=3)
        make_drafts(core, r2, "Great to hear!", "Sorry breakfast ran out, Tom.")
        decide(core, r2, "choose")
        paths = {
            "dpo": root / "pairs.jsonl",
            "kto": root / "kto.jsonl",
            "hf": root / "dataset",
            "dpo_redacted": root / "pairs-redacted.jsonl",
            "kto_redacted": root / "kto-redacted.jsonl",
        }
        assert feedback.export(core, "dpo", paths["dpo"]).pairs == 2
        assert feedback.export(core, "kto", paths["kto"]).kto == 3
        feedback.export(core, "hf", paths["hf"])
        feedback.export(core, "dpo", paths["dpo_redacted"], redact=True)
        feedback.export(core, "kto", paths["kto_redacted"], redact=True)
    finally:
        core.close()
    yield paths


def _load(exports: dict[str, Path]) -> dict[str, Any]:
    from datasets import load_dataset, load_from_disk

    def jsonl(path: Path) -> Any:
        return load_dataset("json", data_files=str(path), split="train",
                            cache_dir=str(path.parent / "cache"))

    hf = load_from_disk(str(exports["hf"]))
    return {
        "dpo": jsonl(exports["dpo"]), "kto": jsonl(exports["kto"]),
        "dpo_redacted": jsonl(exports["dpo_redacted"]),
        "kto_redacted": jsonl(exports["kto_redacted"]),
        "hf_preference": hf["preference"], "hf_kto": hf["kto"],
    }


def test_trl_recognises_the_formats(exports: dict[str, Path]) -> None:
    from trl.data_utils import (
        is_conversational,
        maybe_extract_prompt,
        maybe_unpair_preference_dataset,
    )

    data = _load(exports)
    for name in ("dpo", "dpo_redacted", "hf_preference"):
        ds = data[name]
        assert ds.column_names == PREFERENCE_COLUMNS, name
        for row in ds:
            assert is_conversational(row)
            assert [m["role"] for m in row["prompt"]] == ["system", "user"]
            assert [m["role"] for m in row["chosen"] + row["rejected"]] == ["assistant"] * 2
            # the prompt is explicit: TRL has nothing to extract
            assert maybe_extract_prompt(row) == row
        # TRL sees paired preference data: it knows how to unpair it for KTO
        unpaired = maybe_unpair_preference_dataset(ds)
        assert {"prompt", "completion", "label"} <= set(unpaired.column_names)
        assert unpaired.num_rows == 2 * ds.num_rows
    for name in ("kto", "kto_redacted", "hf_kto"):
        ds = data[name]
        assert ds.column_names == KTO_COLUMNS, name
        assert all(is_conversational(row) for row in ds)
        assert ds["label"] == [True, False, True]
        # already unpaired: TRL leaves it as it is
        assert maybe_unpair_preference_dataset(ds) is ds
    assert data["dpo"][0]["metadata"]["chunk_ids"] == ["doc1:0", "doc2:3"]
    assert "Sarah" not in str(data["dpo_redacted"][0]) and "[NAME_1]" in str(
        data["dpo_redacted"][0])


@pytest.mark.model
def test_dpo_and_kto_trainers_accept_the_exports(exports: dict[str, Path], default_model: Path,
                                                 tmp_path: Path) -> None:
    """Builds both trainers with the default model, which tokenises every export, collates a
    batch of each, and runs one DPO training step. The metadata column is carried along but
    never reaches the model."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

    data = _load(exports)
    folder, name = str(default_model.parent), default_model.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    gguf = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    state = gguf.state_dict()

    def plain_model() -> Any:
        """The dequantised weights in a plain model: transformers won't train a GGUF-loaded one."""
        model = AutoModelForCausalLM.from_config(gguf.config)
        model.load_state_dict(state)
        return model

    lora = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                      task_type="CAUSAL_LM")
    common: dict[str, Any] = {
        "max_steps": 1, "learning_rate": 1e-5, "max_length": 1024, "report_to": "none",
        "use_cpu": True, "save_strategy": "no", "disable_tqdm": True,
        "gradient_checkpointing": False, "dataloader_num_workers": 0,
    }
    runs = (
        (DPOTrainer, DPOConfig, "dpo_redacted", "hf_preference", 1,
         {"prompt_ids", "chosen_ids", "rejected_ids"}),
        (KTOTrainer, KTOConfig, "kto_redacted", "hf_kto", 2,
         {"prompt_ids", "completion_ids", "KL_completion_ids", "label"}),
    )
    trainers = []
    for trainer_class, config_class, train, evaluation, batch, tokenised in runs:
        args = config_class(output_dir=str(tmp_path / train), per_device_train_batch_size=batch,
                            per_device_eval_batch_size=batch, **common)
        trainer = trainer_class(model=plain_model(), args=args, train_dataset=data[train],
                                eval_dataset=data[evaluation], processing_class=tokenizer,
                                peft_config=lora)
        for ds in (trainer.train_dataset, trainer.eval_dataset):
            assert tokenised <= set(ds.column_names) and "metadata" in ds.column_names
            assert ds.num_rows == data[train].num_rows  # nothing dropped as too long
        collated = next(iter(trainer.get_train_dataloader()))
        assert "metadata" not in collated and "input_ids" in collated
        trainers.append(trainer)
    # One step is enough to show the batches fit the loss; more is minutes on two CPU cores.
    result = trainers[0].train()
    assert result.global_step == 1 and math.isfinite(result.training_loss)
