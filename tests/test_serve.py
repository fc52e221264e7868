"""``toonforge serve`` on loopback with a tiny style: every endpoint, cross-request batching,
limits answered with JSON errors, 503 when the queue is full, and serving goes on after each."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
pytest.importorskip("prometheus_client", reason="the serve extra (prometheus-client) is not installed")

from conftest import FixedDetector, shipped_tiny_style, synthetic_face  # noqa: E402
from toonforge.pipelines.stylizer import Stylizer  # noqa: E402

STYLE = "tiny-serve"


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None):
        """(status, headers, body) of one request; errors are answers too."""
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def stylize(self, body: bytes, query: str = "", ctype: str = "image/png"):
        return self.request(f"/v1/stylize{query}", body, {"Content-Type": ctype})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One server for the module: (client, service, image, face, style folder)."""
    import uvicorn

    from toonforge.serve.app import create_app
    from toonforge.serve.service import ServeSettings, StyleService

    root = tmp_path_factory.mktemp("serve-styles")
    style = shipped_tiny_style(root, STYLE)
    old = os.environ.get("TOONFORGE_STYLES")
    os.environ["TOONFORGE_STYLES"] = str(root)
    img, face = synthetic_face(200, seed=2)
    settings = ServeSettings(default_style=STYLE, detector=None, concurrency=4, max_queue=8, max_batch=8,
                             batch_window_ms=5)
    service = StyleService(settings, detector=FixedDetector([face]))
    app = create_app(settings, service=service, load_in_background=False)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield Client(sock.getsockname()[1]), service, img, face, style
    server.should_exit = True
    thread.join(10)
    if old is None:
        os.environ.pop("TOONFORGE_STYLES", None)
    else:
        os.environ["TOONFORGE_STYLES"] = old


def test_every_endpoint_answers(served):
    client, service, img, _, _ = served
    assert client.request("/healthz")[0] == 200
    status, _, body = client.request("/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"
    status, _, body = client.request("/v1/styles")
    listing = json.loads(body)
    assert status == 200 and listing["default"] == STYLE
    assert {"name": STYLE, "kind": "network", "resolution": "64", "tier": "tiny"}.items() <= \
        next(s for s in listing["styles"] if s["name"] == STYLE).items()
    status, _, body = client.request("/openapi.json")
    spec = json.loads(body)
    assert status == 200 and "multipart/form-data" in spec["paths"]["/v1/stylize"]["post"]["requestBody"]["content"]
    assert client.request("/docs")[0] == 200
    assert client.stylize(_png(img))[0] == 200
    status, headers, body = client.request("/metrics")
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for name in ("toonforge_requests_total", "toonforge_request_seconds_bucket", "toonforge_queue_depth",
                 "toonforge_faces_per_image_bucket", "toonforge_network_batch_rows_bucket"):
        assert name in text, name
    assert 'endpoint="/v1/stylize"' in text and 'status="200"' in text


def test_raw_and_multipart_uploads_give_the_pipelines_image(served):
    client, _, img, face, style = served
    want = Stylizer(style, detector=FixedDetector([face]))(img)
    status, headers, body = client.stylize(_png(img), "?strength=0.7")
    assert status == 200 and headers["content-type"] == "image/png" and headers["x-faces"] == "1"
    want_07 = Stylizer(style, detector=FixedDetector([face]))(img, strength=0.7).image
    assert np.array_equal(_decode(body), want_07)
    boundary = uuid.uuid4().hex
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + _png(img) + f"\r\n--{boundary}--\r\n".encode()
    status, headers, body = client.stylize(form, "?head_only=true&format=webp",
                                           f"multipart/form-data; boundary={boundary}")
    assert status == 200 and headers["content-type"] == "image/webp"
    head = _decode(body)
    assert head.shape == want.heads[0].shape and np.abs(head.astype(int) - want.heads[0]).mean() < 8  # lossy WebP


def test_two_concurrent_requests_share_one_network_call(served):
    client, service, img, _, _ = served
    batcher = service.batchers[(STYLE, "head")]
    inner, calls = batcher.runner, []

    def recording(x):
        calls.append(x.shape)
        return inner(x)

    batcher.runner, batcher.window_s, batcher.max_batch = recording, 5.0, 2  # wait for the second request
    try:
        answers = [None, None]
        threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, client.stylize(_png(img))))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        batcher.runner, batcher.window_s, batcher.max_batch = inner, 0.005, 8
    assert [a[0] for a in answers] == [200, 200]
    assert np.array_equal(_decode(answers[0][2]), _decode(answers[1][2]))
    # Each request has one face crop (64 px) and one full frame (128 px): two calls serve both requests.
    assert sorted(calls) == [(2, 3, 64, 64), (2, 3, 128, 128)]


def test_bad_uploads_get_json_errors_and_serving_goes_on(served):
    client, service, img, _, _ = served
    good = _png(img)
    cases = [
        (b"not an image at all", "", 422, "not an image"),
        (good[: len(good) // 2], "", 422, "cannot read the upload"),  # truncated: decoding fails
        (good, "?style=nope", 404, "unknown style"),
        (good, "?style=..%2Fetc", 422, "not a path"),
        (good, "?strength=2", 422, "strength"),
        (good, "?format=gif", 422, "format"),
    ]
    for body, query, status, words in cases:
        got, headers, answer = client.stylize(body, query)
        error = json.loads(answer)
        assert (got, error["status"]) == (status, status) and words in error["error"], (query, error)
        assert headers["content-type"] == "application/json"
    s = service.settings
    s.max_body_mb, s.max_pixels = len(good) / (1 << 20) / 2, 200 * 200
    try:
        got, _, answer = client.stylize(good)
        assert got == 413 and "above the limit" in json.loads(answer)["error"]
        s.max_body_mb = 10.0
        big = _png(np.zeros((201, 200, 3), np.uint8))
        got, _, answer = client.stylize(big)
        assert got == 413 and "pixels" in json.loads(answer)["error"]
    finally:
        s.max_body_mb, s.max_pixels = 10.0, 16_000_000
    assert client.stylize(good)[0] == 200 and client.request("/healthz")[0] == 200


def test_a_full_queue_answers_503_with_retry_after(served):
    client, service, img, _, _ = served
    batcher = service.batchers[(STYLE, "head")]
    inner, gate, entered = batcher.runner, threading.Event(), threading.Event()

    def blocked(x):
        entered.set()
        gate.wait(30)
        return inner(x)

    batcher.runner, service.settings.max_queue = blocked, 1
    first = []
    t = threading.Thread(target=lambda: first.append(client.stylize(_png(img))))
    try:
        t.start()
        assert entered.wait(30)
        status, headers, body = client.stylize(_png(img))
        assert status == 503 and headers["retry-after"] == "1" and "busy" in json.loads(body)["error"]
        assert service.pending == 1
    finally:
        gate.set()
        t.join(60)
        batcher.runner, service.settings.max_queue = inner, 8
    assert first[0][0] == 200 and service.pending == 0
    assert client.stylize(_png(img))[0] == 200


def test_a_mix_reaches_the_pipeline(served):
    client, _, img, _, _ = served
    status, _, body = client.stylize(_png(img), "?mix=anime%3D1")  # the tiny style is single-style
    assert status == 422 and "single-style" in json.loads(body)["error"]
