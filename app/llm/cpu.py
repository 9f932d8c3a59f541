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


def load_backends() -> None:
    """Register llama.cpp's CPU backend when it was built as loadable per-CPU variants.

    The portable build used by the desktop bundle (``GGML_BACKEND_DL`` + ``GGML_CPU_ALL_VARIANTS``,
    packaging/README.md) ships one ``libggml-cpu-<variant>`` per instruction-set level and links
    none in.  ggml would look for them next to the executable and in the working directory only,
    so point it at llama_cpp's own library folder: it scores every variant against this CPU and
    loads the best.  With a regular build a backend is already registered and nothing happens.
    Call before ``llama_print_system_info`` (it lists the loaded backend's features).
    """
    import ctypes
    import sys

    import llama_cpp  # loads libllama, and with it libggml

    # The libggml instance libllama uses, found by its soname among the loaded libraries: the
    # files beside it are copies (wheels have no links), and opening one by path would load a
    # second instance with a registry of its own.
    name = "ggml.dll" if sys.platform == "win32" else "libggml.so.0"
    try:
        ggml = ctypes.CDLL(name, mode=getattr(os, "RTLD_NOLOAD", 0))
    except OSError:
        return  # another layout (macOS, a static build): its backends are linked in
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_reg_count():
        return
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    ggml.ggml_backend_load_all_from_path(str(lib_dir).encode())
