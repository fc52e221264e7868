"""The stylization service as a Ray Serve deployment (the ``ray`` extra), for many machines.

Each replica holds one :class:`~.service.StyleService` (styles loaded once, network calls of the
replica's concurrent requests batched, a bounded queue) and answers the same routes as
``toonforge serve``: ``POST /v1/stylize``, ``GET /v1/styles``, ``GET /healthz``. Ray Serve
routes requests to replicas and, with ``autoscaling``, adds or removes replicas by load.

    # on a Ray cluster (or locally): two replicas to start, up to 8 by load
    serve run toonforge.serve.ray_serve:build_app style=classic min_replicas=2 max_replicas=8

or from Python: ``serve.run(build_app({"style": "classic"}), route_prefix="/")``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .service import ServeSettings, ServiceError

__all__ = ["ToonforgeDeployment", "autoscaling_config", "build_app"]


def autoscaling_config(min_replicas: int = 1, max_replicas: int = 4, target_ongoing: int = 4) -> dict[str, Any]:
    """Ray Serve autoscaling: keep about ``target_ongoing`` requests per replica."""
    return {"min_replicas": min_replicas, "max_replicas": max_replicas, "target_ongoing_requests": target_ongoing,
            "upscale_delay_s": 5, "downscale_delay_s": 60}


class ToonforgeDeployment:
    """One replica: a StyleService behind a small router (plain class; :func:`build_app` deploys it)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from .service import StyleService

        self.settings = ServeSettings(**settings)
        self.service = StyleService(self.settings)
        self.service.load()
        self.pool = ThreadPoolExecutor(max_workers=self.settings.concurrency)

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        path, method = request.url.path.rstrip("/"), request.method
        try:
            if method == "GET" and path.endswith("/healthz"):
                return JSONResponse({"status": "ok", "ready": self.service.ready.is_set()})
            if method == "GET" and path.endswith("/v1/styles"):
                from ..styles.catalog import catalog

                rows = [{k: v for k, v in r.to_dict().items() if k != "path"} for r in catalog()]
                return JSONResponse({"default": self.settings.default_style, "styles": rows})
            if method == "POST" and path.endswith("/v1/stylize"):
                return await self._stylize(request)
            raise ServiceError(404, f"no route {method} {path or '/'}")
        except ServiceError as exc:
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
            return JSONResponse({"error": exc.message, "status": exc.status}, status_code=exc.status, headers=headers)

    async def _stylize(self, request: Any) -> Any:
        from starlette.responses import Response

        q = request.query_params
        try:
            strength = float(q.get("strength", 1.0))
            size = int(q["size"]) if q.get("size") else None
        except ValueError:
            raise ServiceError(422, "strength must be a number and size an integer") from None
        head_only = q.get("head_only", "false").lower() in ("1", "true", "yes")
        self.service.admit()
        try:
            declared = request.headers.get("content-length")
            if declared and declared.isdigit():
                self.service.check_body_size(int(declared))
            data = await request.body()
            out = await asyncio.get_running_loop().run_in_executor(self.pool, lambda: self.service.timed(
                self.service.stylize, data, style=q.get("style"), strength=strength, head_only=head_only,
                fmt=q.get("format", "png"), size=size))
        finally:
            self.service.release()
        return Response(out.body, media_type=out.media_type, headers={"X-Faces": str(out.faces)})


def build_app(args: dict[str, Any] | None = None):
    """A Ray Serve application (``serve run toonforge.serve.ray_serve:build_app key=value ...``).

    Keys: ``style`` (default style), ``num_replicas`` (fixed count) or ``min_replicas`` /
    ``max_replicas`` / ``target_ongoing`` (autoscaling), ``num_cpus`` per replica, and any
    :class:`~.service.ServeSettings` field (e.g. ``detector=none``, ``max_batch=8``).
    """
    from ray import serve

    args = dict(args or {})
    replicas = args.pop("num_replicas", None)
    scaling = {k: int(args.pop(k)) for k in ("min_replicas", "max_replicas", "target_ongoing") if k in args}
    num_cpus = float(args.pop("num_cpus", 1))
    if "style" in args:
        args["default_style"] = args.pop("style")
    fields = ServeSettings.__dataclass_fields__
    unknown = set(args) - set(fields)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(fields)}")
    settings = ServeSettings(**{k: _typed(fields[k].type, v) for k, v in args.items()})
    options: dict[str, Any] = {"ray_actor_options": {"num_cpus": num_cpus},
                               "max_ongoing_requests": settings.max_queue}
    if replicas is not None:
        options["num_replicas"] = int(replicas)
    else:
        options["autoscaling_config"] = autoscaling_config(**scaling)
    deployment = serve.deployment(ToonforgeDeployment, name="toonforge", **options)
    return deployment.bind(json.loads(json.dumps(settings.__dict__)))


def _typed(kind: Any, value: Any) -> Any:
    """Command-line strings (``serve run ... key=value``) to the settings' field types."""
    if not isinstance(value, str):
        return value
    kind = str(kind)
    if value.lower() in ("none", "null"):
        return None
    if kind.startswith("int"):
        return int(value)
    if kind.startswith("float"):
        return float(value)
    if kind.startswith("list"):
        return [v for v in value.split(",") if v]
    return value
