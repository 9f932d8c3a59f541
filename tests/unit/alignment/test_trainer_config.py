from __future__ import annotations

import pytest

from app.alignment.trainer import TrainConfig
from app.core.errors import KnownError


def test_invalid_settings_are_reported_together() -> None:
    with pytest.raises(KnownError, match=r"method must be one of dpo, support; .*LoRA rank"):
        TrainConfig(method="ppo", lora_r=0).validated()


def test_hyperparameters_name_only_what_the_method_uses() -> None:
    dpo = TrainConfig(method="dpo").hyperparameters()
    support = TrainConfig(method="support").hyperparameters()
    assert "beta" in dpo and not any(k.startswith("support_") for k in dpo)
    assert "beta" not in support and support["support_quantile"] == 0.99
    assert "threads" not in dpo and dpo["lora_r"] == 8
    assert dpo["learning_rate"] == support["learning_rate"]
