"""What this machine's CPU is: its model name and the instruction sets that matter for
choosing an engine and a precision (read from /proc/cpuinfo; empty elsewhere)."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# Flags that change which engine is fastest or whether bf16 is native.
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def _cpuinfo() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_model() -> str:
    """The CPU's model name (e.g. "AMD EPYC 9R14"), else the platform's processor."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The relevant instruction-set flags this CPU has."""
    flags = set(_cpuinfo().get("flags", "").split())
    return frozenset(f for f in RELEVANT_FLAGS if f in flags)


def native_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    return any(f in cpu_flags() for f in BF16_FLAGS)
