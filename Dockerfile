# The toonforge runtime image: `toonforge serve` (and stylize/video) on ONNX Runtime, without PyTorch.
#
#   docker build -t toonforge-runtime .
#   docker run --rm -p 8000:8000 toonforge-runtime                      # serves on port 8000
#   docker run --rm -v "$PWD:/data" toonforge-runtime toonforge stylize /data/me.jpg -o /data/out.png
#
# Styles ship inside the package (styles/builtin); mount more and point TOONFORGE_STYLES at them.
# Not built on the project's machines (no Docker daemon there); see the README's speed section.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# libgomp: the OpenMP runtime that the onnxruntime, OpenCV and dlib wheels link against.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
# The runtime and the serve extra only: no PyTorch, no training stack.
RUN WHEEL=$(ls /wheels/toonforge-*.whl) && pip install --no-cache-dir "${WHEEL}[serve]" && rm -rf /wheels
RUN useradd --create-home --uid 10001 toonforge
USER toonforge
ENV TOONFORGE_CACHE=/home/toonforge/.cache/toonforge
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
# Inside a container the service must listen beyond loopback; --workers N for more processes.
CMD ["toonforge", "serve", "--host", "0.0.0.0", "--port", "8000"]
