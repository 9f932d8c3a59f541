"""The training report's peak memory belongs to the run, not to whatever the process held before."""

from __future__ import annotations

import sys

import pytest

from app.alignment.trainer import current_rss_mb, peak_rss_mb, reset_peak_rss


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc high-water mark")
def test_reset_peak_rss_forgets_an_earlier_peak() -> None:
    block = bytearray(300 * 1024 * 1024)  # touched: bytearray zero-fills
    block[::4096] = b"x" * len(block[::4096])
    assert peak_rss_mb() >= current_rss_mb() >= 300
    del block
    before = peak_rss_mb()
    start = reset_peak_rss()
    assert peak_rss_mb() < before - 250
    assert start <= peak_rss_mb() < start + 50
