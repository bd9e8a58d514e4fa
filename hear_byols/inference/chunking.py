"""How much work one forward pass takes, per device.

On CPU small chunks that keep activations in cache are fastest (the callers' CPU values are
measured in benchmarks/RESULTS.md). A GPU wants large batches to fill it, bounded by its free
memory: chunks there hold as many items as fit in a share of the memory free at call time.
"""
from __future__ import annotations

import torch

#: Upper bound of the activations one encoder pass holds per log-mel column (STFT hop): clstm's
#: first conv keeps 256 channels x 64 mels in float32 (64 KiB), plus the next layer's input.
ACTIVATION_BYTES_PER_COLUMN = 96 * 1024
#: Share of the free device memory a forward pass may fill (the rest: inputs, outputs, allocator slack).
FREE_MEMORY_SHARE = 0.25


def items_per_forward(device: torch.device, cpu_items: int, columns_per_item: int, limit: int) -> int:
    """Items (frames, clips, columns) per forward pass: ``cpu_items`` off CUDA; on CUDA as many
    as ``FREE_MEMORY_SHARE`` of the free memory holds at ``columns_per_item`` log-mel columns
    each, never fewer than ``cpu_items`` nor more than ``limit``."""
    if device.type != "cuda":
        return cpu_items
    free_bytes, _ = torch.cuda.mem_get_info(device)
    fitting = int(free_bytes * FREE_MEMORY_SHARE) // (columns_per_item * ACTIVATION_BYTES_PER_COLUMN)
    return max(cpu_items, min(limit, fitting))
