"""``toonforge serve``: the stylization pipeline over HTTP (FastAPI on uvicorn), without PyTorch.

* :mod:`.batching`: network calls of concurrent requests merged into one (a short window, a
  maximum batch), in front of the same runners the CLI uses;
* :mod:`.service`: one request's work (decode, limits, stylize, encode) and the bounded queue;
* :mod:`.metrics`: Prometheus counters and histograms;
* :mod:`.app`: the ASGI app (endpoints, JSON errors, OpenAPI);
* :mod:`.ray_serve` / :mod:`.ray_data`: the same service on Ray Serve, and batch stylization of
  photo collections with Ray Data (the ``ray`` extra).

Nothing here imports PyTorch; the web stack is imported only by :mod:`.app` (``serve`` extra).
"""
