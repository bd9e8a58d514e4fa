"""The ``precision`` option: exact float32 by default, opt-in TF32 / bf16 / fp16 for speed.

Why: torch lets cuDNN use TF32 for convolutions and the LSTM by default on Ampere and later
GPUs (~1e-3 relative error, and algorithm choices, hence numbers, that change with the batch
shape), and a caller's ``torch.autocast`` would run the mel filterbank in fp16, which
overflows on loud input. So every entry point runs its kernels at the model's precision and
restores the caller's settings afterwards; reduced precision applies to the encoder only, the
frontend and the normalisation statistics always stay float32.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

import torch

from hear_byols.errors import InvalidOptionError

FLOAT32 = "float32"
#: option -> dtype the encoder autocasts to (None: no autocast)
AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {
    FLOAT32: None,
    "tf32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
PRECISIONS = tuple(AUTOCAST_DTYPES)
#: (backend, operator) pairs of torch's per-operator fp32 precision settings (torch >= 2.9)
_FP32_OPERATORS = (("cuda", "matmul"), ("cudnn", "conv"), ("cudnn", "rnn"), ("mkldnn", "matmul"), ("mkldnn", "conv"), ("mkldnn", "rnn"))
#: TF32 is a CUDA tensor-core format: on CPU (oneDNN) "tf32" keeps full float32
_TF32_BACKENDS = ("cuda", "cudnn")


def parse_precision(value: object) -> str:
    """Accept one of ``PRECISIONS`` (JSON-serialisable, so heareval's --model-options can pass it)."""
    if isinstance(value, str) and value in AUTOCAST_DTYPES:
        return str(value)
    raise InvalidOptionError(
        f"precision={value!r}; choose one of {list(PRECISIONS)}: 'float32' (default, the published numbers), "
        "'tf32' (TF32 tensor cores on CUDA), 'bf16' or 'fp16' (encoder under autocast); see docs/PRECISION.md"
    )


def encoder_autocast(precision: str, device: torch.device) -> ContextManager[object]:
    """Autocast for the encoder calls when ``precision`` asks for it, else nothing."""
    dtype = AUTOCAST_DTYPES[precision]
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def warn_if_slow_on_cpu(precision: str, device: torch.device) -> None:
    """Say that fp16 on a CPU is slow, once per process (Python's default warning filter): CPU
    autocast runs many fp16 kernels through slow paths, 4-55x float32's time measured
    (benchmarks/bench_precision.py, docs/PRECISION.md), so a run would crawl without a word.
    bf16 is not warned about: with native bf16 (AVX512-BF16, AMX) it was faster than float32."""
    if device.type == "cpu" and AUTOCAST_DTYPES[precision] == torch.float16:
        warnings.warn(
            "precision='fp16' on the CPU is 4-55x slower than float32 (measured; docs/PRECISION.md): use it on a "
            "GPU (model.to('cuda')); on a CPU use 'float32', or 'bf16' where the CPU has native bf16 (AVX512-BF16, AMX)",
            RuntimeWarning,
        )


def _operators() -> list[object]:
    """The per-operator precision settings this torch has (none before torch 2.9)."""
    found = []
    for backend, operator in _FP32_OPERATORS:
        setting = getattr(getattr(torch.backends, backend, None), operator, None)
        if setting is not None and hasattr(setting, "fp32_precision"):
            found.append((backend, setting))
    return found


@contextmanager
def float32_kernels(precision: str) -> Iterator[None]:
    """Float32 convolutions, matmuls and LSTMs at full precision (TF32 on CUDA for ``"tf32"``),
    the caller's settings restored afterwards.

    torch >= 2.9 has per-operator precision flags beside the legacy ones and refuses some mixes
    of the two: the matmul precision is set through ``set_float32_matmul_precision`` first, then
    the per-operator flags where they exist (the legacy cuDNN flag otherwise), and everything is
    restored in the same order. These are process-wide settings: threads running other float32
    CUDA work meanwhile see them too.
    """
    tf32 = precision == "tf32"
    operators = _operators()
    saved_matmul = torch.get_float32_matmul_precision()
    saved = [setting.fp32_precision for _, setting in operators] if operators else torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    if operators:
        for backend, setting in operators:
            setting.fp32_precision = "tf32" if tf32 and backend in _TF32_BACKENDS else "ieee"
    else:
        torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved_matmul)
        if operators:
            for (_, setting), value in zip(operators, saved):
                setting.fp32_precision = value
        else:
            torch.backends.cudnn.allow_tf32 = saved
