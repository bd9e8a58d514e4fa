"""A minimal HTTP service around ``OnnxEncoder``, standard library only (docs/DEPLOY.md).

``POST /scene`` with a 16 kHz mono WAV/FLAC/OGG body answers ``{"variant", "dim", "embedding"}``
(the scene embedding, ``OnnxEncoder.scene``); ``GET /`` describes the graph. A bad upload gets a
4xx with ``{"error": message}``. Each request is embedded on its own: with ``per_clip`` or fixed
statistics no request depends on another (the reference normalisation would make it depend on
the batch, which is why the export refuses it). ``python -m hear_byols.onnx_runtime.serve
model.onnx --port 8000`` runs it.
"""
from __future__ import annotations

import argparse
import io
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import soundfile as sf

from hear_byols.audio.complete import check_complete_stream
from hear_byols.errors import AudioFileError, HearByolsError
from hear_byols.onnx_runtime.encoder import OnnxEncoder

#: Largest upload accepted (bytes): ten minutes of 16 kHz float32 audio, with room for headers.
MAX_UPLOAD_BYTES = 40 * 1024 * 1024


class BadUpload(Exception):
    """An upload the service refuses, with its HTTP status."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def decode_upload(body: bytes, sample_rate: int) -> np.ndarray:
    """The upload's samples as float32 ``(n,)``: a readable, mono, non-empty file at ``sample_rate``."""
    try:
        check_complete_stream(io.BytesIO(body), len(body), "the upload")  # libsndfile would read a cut file's start
        samples, rate = sf.read(io.BytesIO(body), dtype="float32", always_2d=True)
    except AudioFileError as exc:
        raise BadUpload(HTTPStatus.BAD_REQUEST, str(exc)) from None
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise BadUpload(HTTPStatus.BAD_REQUEST, f"the body is not a readable WAV, FLAC or OGG file ({exc})") from None
    if rate != sample_rate:
        raise BadUpload(HTTPStatus.BAD_REQUEST, f"the audio is at {rate} Hz; send {sample_rate} Hz (resample it first)")
    if samples.shape[1] != 1:
        raise BadUpload(HTTPStatus.BAD_REQUEST, f"the audio has {samples.shape[1]} channels; send mono audio")
    if samples.shape[0] == 0:
        raise BadUpload(HTTPStatus.BAD_REQUEST, "the audio holds no samples")
    return samples[:, 0]


def make_handler(encoder: OnnxEncoder) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``encoder`` (one session, shared by the server's threads)."""
    lock = threading.Lock()  # onnxruntime's run() is thread-safe, but one at a time keeps CPU use bounded

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path != "/":
                return self._reply(HTTPStatus.NOT_FOUND, {"error": "GET / describes the model; POST audio to /scene"})
            self._reply(HTTPStatus.OK, {"variant": encoder.variant, "dim": encoder.dim,
                                        "normalization": encoder.info.normalization, "layer": encoder.info.layer})

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            try:
                if self.path != "/scene":
                    raise BadUpload(HTTPStatus.NOT_FOUND, "POST the audio file to /scene")
                audio = decode_upload(self._body(), encoder.sample_rate)
                with lock:
                    embedding = encoder.scene(audio[None])[0]
            except BadUpload as exc:
                return self._reply(exc.status, {"error": str(exc)})
            except HearByolsError as exc:  # audio the model cannot embed (too short, out of range, NaN)
                return self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(exc)})
            self._reply(HTTPStatus.OK, {"variant": encoder.variant, "dim": encoder.dim, "embedding": embedding.tolist()})

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise BadUpload(HTTPStatus.LENGTH_REQUIRED, "send the file with a Content-Length header")
            if int(length) > MAX_UPLOAD_BYTES:
                raise BadUpload(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"uploads are limited to {MAX_UPLOAD_BYTES} bytes")
            return self.rfile.read(int(length))

        def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            """Quiet: an application logs requests its own way."""

    return Handler


def make_server(encoder: OnnxEncoder, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server (not yet serving: call ``serve_forever()``); ``port=0`` picks a free port
    (``server.server_address`` tells which)."""
    return ThreadingHTTPServer((host, port), make_handler(encoder))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve an exported hear_byols graph over HTTP (POST a WAV to /scene).")
    parser.add_argument("graph", help="the .onnx file (its .json sidecar beside it)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    args = parser.parse_args(argv)
    server = make_server(OnnxEncoder(args.graph, threads=args.threads), args.host, args.port)
    print(f"serving {args.graph} on http://{server.server_address[0]}:{server.server_address[1]}/scene", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
