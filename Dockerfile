# syntax=docker/dockerfile:1.6
# puhui container image: API workers, scheduled jobs and CLI in one image (Debian, non-root).
#
#   docker build -t puhui:0.1 .                                      # with network (or a mirror)
#   docker build --build-arg PIP_INDEX_URL=https://nexus.bank/pypi/simple -t puhui:0.1 .
#   pip download --no-deps -r requirements.lock "setuptools>=69" wheel -d wheels/ \
#       --python-version 3.11 --platform manylinux2014_x86_64 --only-binary=:all:  # connected
#   docker build --build-context wheels=./wheels -t puhui:0.1 .      # fully offline
#   docker build --build-arg WITH_JAVA=1 -t puhui-batch:0.1 .        # + Java 17 for Spark jobs
#
# Every Python dependency is the exact version pinned in requirements.lock (no resolution at
# build time). Configuration and secrets come from the environment at run time only; nothing
# secret is baked into the image. See docs/OPERATIONS.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# An empty wheelhouse unless the build passes --build-context wheels=<dir>.
FROM scratch AS wheels

FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
# Runtime only: the test and lint tools pinned in the lock stay out of the image.
RUN grep -vE '^(pytest|pytest-xdist|playwright|schemathesis|hypothesis|ruff)==' requirements.lock \
      > /tmp/runtime.lock
COPY src ./src
# gcc builds the PSI extension (puhui.federated._x25519); without it PSI falls back to libsodium.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
# With a wheelhouse nothing is fetched: the lock's wheels plus setuptools and wheel (to build
# puhui itself) must all be in it.
RUN --mount=type=bind,from=wheels,target=/wheels \
    if [ -n "$(ls -A /wheels 2>/dev/null)" ]; then FIND="--no-index --find-links /wheels"; \
    else FIND=""; fi \
 && python -m venv /opt/puhui \
 && /opt/puhui/bin/pip install $FIND --no-deps -r /tmp/runtime.lock \
 && /opt/puhui/bin/pip install $FIND --no-deps .

FROM ${PYTHON_IMAGE} AS runtime
ARG WITH_JAVA=0
# libgomp1: LightGBM's OpenMP runtime; tzdata: cron in the bank's time zone; Java: Spark jobs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 tzdata ca-certificates \
 && if [ "$WITH_JAVA" = "1" ]; then \
      apt-get install -y --no-install-recommends openjdk-17-jre-headless; \
    fi \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 puhui \
 && useradd --system --uid 10001 --gid puhui --home-dir /var/lib/puhui --shell /usr/sbin/nologin puhui \
 && mkdir -p /var/lib/puhui && chown puhui:puhui /var/lib/puhui
COPY --from=build /opt/puhui /opt/puhui
ENV PATH=/opt/puhui/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TZ=Asia/Shanghai \
    PUHUI_DATA_DIR=/var/lib/puhui
USER puhui:puhui
WORKDIR /var/lib/puhui
VOLUME ["/var/lib/puhui"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# One API worker per container; scale by running more containers behind the load balancer.
# Jobs use the same image: `docker run ... puhui scheduler run` or `puhui scheduler run-job ...`.
ENTRYPOINT ["puhui"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
