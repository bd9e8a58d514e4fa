"""The torch-free runtime of exported graphs: ``OnnxEncoder`` (scene, timestamps, streams).

Needs only NumPy, onnxruntime and soundfile (docs/DEPLOY.md): nothing here imports torch, so an
application serves a ``hear-byols export`` graph without installing it.
"""
from hear_byols.onnx_runtime.chunks import checked_chunk
from hear_byols.onnx_runtime.encoder import OnnxEncoder
from hear_byols.onnx_runtime.framing import FrameBuffer
from hear_byols.onnx_runtime.stream import FrameStream

__all__ = ["FrameBuffer", "FrameStream", "OnnxEncoder", "checked_chunk"]
