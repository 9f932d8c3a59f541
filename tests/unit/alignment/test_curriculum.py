from __future__ import annotations

import pytest

from app.alignment.curriculum import order


def rows() -> list[dict]:
    return [{"id": 0, "metadata": {"margin": 0.1}}, {"id": 1, "metadata": {}},
            {"id": 2, "metadata": {"margin": 0.7}}, {"id": 3, "metadata": {"margin": 0.4}}]


def ids(rs: list[dict]) -> list[int]:
    return [r["id"] for r in rs]


def test_margin_curriculum_is_easy_first_with_unknown_margins_last() -> None:
    assert ids(order(rows(), "margin")) == [2, 3, 0, 1]
    assert ids(order(rows(), "margin", margin=lambda r: float(r["id"]))) == [3, 2, 1, 0]


def test_other_modes() -> None:
    assert ids(order(rows(), "none")) == [0, 1, 2, 3]
    shuffled = order(rows(), "shuffle", seed=1)
    assert sorted(ids(shuffled)) == [0, 1, 2, 3]
    assert ids(order(rows(), "shuffle", seed=1)) == ids(shuffled)
    with pytest.raises(ValueError):
        order(rows(), "hardest")
