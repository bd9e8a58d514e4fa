"""Helpers for the weights tests: a real HTTP server on 127.0.0.1 with scripted responses.

The download code is exercised unchanged; only the WeightFile it is given points at this
server, with hashes computed from a small generated payload.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from collections.abc import Iterator

import pytest

from hear_byols.weights import registry
from hear_byols.variants import WeightFile, parse_weights

WEIGHTS_ENV_VARS = (
    "HEAR_BYOLS_WEIGHTS_DIR",
    "HEAR_BYOLS_CACHE_DIR",
    "HEAR_BYOLS_MIRROR",
    "HEAR_BYOLS_OFFLINE",
)
_SEND_CHUNK = 16 * 1024


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    send_bytes: int | None = None  # send only this many bytes of ``body`` (a cut transfer)
    chunk_delay_s: float = 0.0  # pause between 16 KiB chunks (a slow server)
    endless: bool = False  # no Content-Length, ``body`` repeated until the client hangs up


class WeightsServer:
    """Serves ``Route``s and counts the GET requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def requests(self, path: str) -> int:
        """How many GETs ``path`` received."""
        with self._lock:
            return self.counts[path]

    def _count(self, path: str) -> None:
        with self._lock:
            self.counts[path] += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._count(self.path)
                route = server.routes.get(self.path, Route(b"not found", status=404))
                self.send_response(route.status)
                if route.endless:
                    self.end_headers()
                    with contextlib.suppress(OSError):  # the client aborting is the expected end
                        while True:
                            self.wfile.write(route.body)
                    return
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                sent = route.body[: route.send_bytes] if route.send_bytes is not None else route.body
                for start in range(0, len(sent), _SEND_CHUNK):
                    self.wfile.write(sent[start : start + _SEND_CHUNK])
                    self.wfile.flush()
                    time.sleep(route.chunk_delay_s)

            def log_message(self, *args: object) -> None:
                """Keep test output clean."""

        return Handler

    @contextlib.contextmanager
    def running(self) -> Iterator[WeightsServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join()


def payload(n_bytes: int = 300_000, seed: int = 0) -> bytes:
    """Deterministic bytes standing in for a weight file."""
    return random.Random(seed).randbytes(n_bytes)


def weight_file_for(
    body: bytes,
    urls: list[str],
    *,
    variant: str = "default",
    filename: str = "test-weights.pth",
    with_size: bool = True,
    with_sha256: bool = True,
) -> WeightFile:
    """A WeightFile whose size and hashes are those of ``body`` (git blob id always set)."""
    return WeightFile(
        variant=variant,
        filename=filename,
        urls=tuple(urls),
        size=len(body) if with_size else None,
        sha256=hashlib.sha256(body).hexdigest() if with_sha256 else None,
        git_blob_sha1=hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest(),
        licence="MIT",
        licence_source="https://example.org/LICENSE",
        redistributable=True,
    )


def isolate_weights_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Clear the package's env vars and point the cache at ``tmp_path/cache`` (never ~/.cache)."""
    for name in WEIGHTS_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("HEAR_BYOLS_CACHE_DIR", str(cache))
    return cache


def use_registry(
    monkeypatch: pytest.MonkeyPatch, files: list[WeightFile], note_variants: tuple[str, ...] = ()
) -> None:
    """Replace the configs' weights registry with one holding ``files`` (validated like the real one)."""
    raw: dict[str, dict] = {name: {"files": [], "note": "none published"} for name in note_variants}
    for wf in files:
        entry = {
            "filename": wf.filename,
            "urls": list(wf.urls),
            "size": wf.size,
            "sha256": wf.sha256,
            "git_blob_sha1": wf.git_blob_sha1,
            "licence": wf.licence,
            "licence_source": wf.licence_source,
            "redistributable": wf.redistributable,
        }
        raw.setdefault(wf.variant, {"files": []})["files"].append(entry)
    parsed = {name: registry.VariantWeights(*parse_weights(name, entry, "test registry")) for name, entry in raw.items()}
    monkeypatch.setattr(registry, "_registry", lambda: parsed)


def leftovers(directory: Path) -> list[str]:
    """Temporary ``.part`` files left in ``directory`` (there must never be any)."""
    return sorted(p.name for p in directory.glob("*.part")) if directory.exists() else []
