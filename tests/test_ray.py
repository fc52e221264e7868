"""Scale-out on Ray: the Ray Serve deployment answers over HTTP and Ray Data stylizes a folder,
on a local Ray started here on loopback (skipped where Ray is not installed or cannot start)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (the optional extra: pip install 'toonforge[ray]')")
pytestmark = pytest.mark.slow

from conftest import shipped_tiny_style, synthetic_face  # noqa: E402
from toonforge.io.images import load_image, save_image  # noqa: E402
from toonforge.pipelines.stylizer import Stylizer  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray for the module (2 CPUs, no dashboard), and a tiny style that ships its graph."""
    tmp = tmp_path_factory.mktemp("ray")
    style = shipped_tiny_style(tmp, "tiny-ray")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
                 object_store_memory=200 * 1024 * 1024)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Ray cannot start on this machine: {str(exc).splitlines()[0]}")
    yield tmp, style
    from ray import serve

    serve.shutdown()
    ray.shutdown()


def test_ray_serve_deployment_answers_over_http(local_ray):
    from ray import serve

    from toonforge.serve.ray_serve import build_app

    tmp, style = local_ray
    port = _free_port()
    try:  # Ray Serve's HTTP proxy is an actor of its own; on an overloaded machine it may not come up
        serve.start(http_options={"host": "127.0.0.1", "port": port})
    except ray.exceptions.RayError as exc:
        pytest.skip(f"Ray Serve's proxy cannot start on this machine: {str(exc).splitlines()[0]}")
    serve.run(build_app({"style": str(style), "detector": "none", "num_replicas": 1, "num_cpus": 0.5}),
              route_prefix="/")
    img, _ = synthetic_face(120, seed=4)
    save_image(tmp / "in.png", img)
    body = (tmp / "in.png").read_bytes()

    def post(data: bytes, query: str = ""):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/stylize{query}", data=data,
                                     headers={"Content-Type": "image/png"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    status, data = post(body)
    assert status == 200
    import io

    from PIL import Image

    got = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.array_equal(got, Stylizer(style, detector=None)(img).image)
    status, data = post(b"junk")
    assert status == 422 and "not an image" in json.loads(data)["error"]
    assert post(body, "?strength=0")[0] == 200  # the replica keeps serving


def test_ray_data_stylizes_a_folder_with_map_batches(local_ray):
    from toonforge.serve.ray_data import stylize_collection

    tmp, style = local_ray
    photos = tmp / "photos"
    photos.mkdir()
    images = [synthetic_face(96, seed=s)[0] for s in range(3)]
    for i, im in enumerate(images):
        save_image(photos / f"p{i}.png", im)
    (photos / "bad.png").write_bytes(b"not a png")
    rows = stylize_collection([photos], tmp / "out", style=str(style), detector=None, concurrency=1, batch_size=2)
    by_name = {r["src"].rsplit("/", 1)[-1]: r for r in rows}
    assert sorted(by_name) == ["bad.png", "p0.png", "p1.png", "p2.png"]
    assert "not an image" in by_name["bad.png"]["error"]
    ref = Stylizer(style, detector=None)
    for i, im in enumerate(images):
        assert by_name[f"p{i}.png"]["error"] == ""
        assert np.array_equal(load_image(tmp / "out" / f"p{i}.png").rgb, ref(im).image)
    assert len(stylize_collection([photos], tmp / "out", style=str(style), detector=None)) == 1  # done ones skipped
