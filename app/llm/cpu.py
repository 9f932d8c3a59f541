"""CPU feature checks that decide how llama.cpp may run on this machine.

llama.cpp's AMX "extra buffer" (weight repacking) path crashes (SIGSEGV/SIGILL in
``tinygemm_kernel_amx``) on batches of 2+ tokens with small quantised models such as the default
SmolLM2 Q4_1 (DESIGN §3).  A crash in native code kills the whole app, so we never take that path
when both the CPU and the llama.cpp build have AMX: the model is loaded with
``use_extra_bufts = False``, the Python equivalent of llama.cpp's ``--repack 0``.
"""

from __future__ import annotations

import os
from pathlib import Path

OVERRIDE_ENV = "REPLYDESK_LLAMA_REPACK"  # "1" forces repacking on, "0" forces it off


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        with cpuinfo.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def build_has_amx(system_info: str) -> bool:
    """Whether llama.cpp was compiled with AMX kernels (from ``llama_print_system_info``)."""
    return any(f"{k} = 1" in system_info for k in ("AMX_INT8", "AMX"))


def use_extra_buffers(system_info: str, flags: set[str] | None = None) -> tuple[bool, str]:
    """Decide whether llama.cpp may use its extra (repacking) buffer types, and why."""
    override = os.environ.get(OVERRIDE_ENV)
    if override in ("0", "1"):
        return override == "1", f"{OVERRIDE_ENV}={override}"
    flags = cpu_flags() if flags is None else flags
    cpu_amx = bool(flags & {"amx_int8", "amx_tile", "amx_bf16"})
    if cpu_amx and build_has_amx(system_info):
        return False, "AMX CPU and AMX build: repacking off to avoid llama.cpp's AMX crash"
    return True, "no AMX: default buffers"
