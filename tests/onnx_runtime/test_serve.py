"""The DEPLOY.md service: a real HTTP request on 127.0.0.1 returns ``OnnxEncoder.scene``; bad
uploads get a 4xx with a message."""
from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile as sf

from hear_byols.onnx_runtime import OnnxEncoder
from hear_byols.onnx_runtime.serve import make_server


@pytest.fixture
def service(graph) -> Iterator[tuple[str, OnnxEncoder]]:
    encoder = OnnxEncoder(graph("default"))
    server = make_server(encoder, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", encoder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert not thread.is_alive()


def wav(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "audio/wav"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_post_wav_returns_the_scene_embedding(service) -> None:
    url, encoder = service
    samples = (0.3 * np.sin(2 * np.pi * 300 * np.arange(20000) / 16000)).astype(np.float32)
    body = wav(samples)
    status, answer = post(f"{url}/scene", body)
    assert status == 200, answer
    decoded = sf.read(io.BytesIO(body), dtype="float32")[0]
    expected = encoder.scene(decoded[None])[0]
    assert answer["variant"] == "default" and answer["dim"] == expected.size
    assert np.array_equal(np.array(answer["embedding"], np.float32), expected)
    with urllib.request.urlopen(f"{url}/", timeout=30) as response:
        assert json.loads(response.read())["variant"] == "default"


@pytest.mark.parametrize("body, status, words", [
    (b"this is not audio", 400, "not a readable"),
    (wav(np.zeros(16000), rate=44100), 400, "44100 Hz"),
    (wav(np.zeros((16000, 2))), 400, "2 channels"),
    (wav(np.zeros(40)), 422, "too short"),
    (wav(np.full(16000, 1.5), subtype="FLOAT"), 422, "[-1, 1]"),
    (wav(np.full(32000, 0.1))[:-20000], 400, "truncated"),  # a cut upload: never embedded as its first part
])
def test_bad_upload_gets_4xx_with_message(service, body: bytes, status: int, words: str) -> None:
    url, _ = service
    got, answer = post(f"{url}/scene", body)
    assert got == status and words in answer["error"], answer


def test_wrong_path(service) -> None:
    url, _ = service
    status, answer = post(f"{url}/embed", b"")
    assert status == 404 and "/scene" in answer["error"]
