# syntax=docker/dockerfile:1
# verify-service image: build in one stage, run from a slim one with nothing but the
# installed package (no compiler, no tests, no pip cache), as a non-root user.
# Configuration comes from the environment: VERIFY_CONFIG (a mounted TOML file whose
# secrets are "env:NAME"), VERIFY_REDIS_URL, VERIFY_PEPPER, VERIFY_METRICS_TOKEN, …
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Every dependency ships manylinux wheels (argon2-cffi, hiredis, msgspec, …): no toolchain.
# The versions and their hashes come from requirements/runtime.lock (`make lock` refreshes
# it); pip refuses anything else. Its own layer: a code change does not re-download them.
RUN python -m venv /opt/venv
COPY requirements/runtime.lock ./requirements/
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY verify_service ./verify_service
# The package itself, built by the locked setuptools; then the build backend goes.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
    && /opt/venv/bin/pip uninstall --yes setuptools \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VERIFY_CONFIG=/etc/verify-service/verify-service.toml \
    VERIFY_HOST=0.0.0.0 \
    VERIFY_PORT=8080 \
    VERIFY_GRACEFUL_TIMEOUT=20
RUN groupadd --system --gid 10001 verify \
    && useradd --system --uid 10001 --gid verify --no-create-home --shell /usr/sbin/nologin verify
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8080
# /health/ready: the store answers and the scripts are loaded. Python's urllib, as the
# slim image has no curl; a 503 raises, which makes the exit status 1. It asks the port
# the server listens on: VERIFY_PORT, which `serve` reads too (-e VERIFY_PORT=9000 moves both).
HEALTHCHECK --interval=15s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('VERIFY_PORT', '8080'), timeout=2)"]
# uvicorn finishes in-flight requests on SIGTERM (up to VERIFY_GRACEFUL_TIMEOUT seconds);
# give the orchestrator's stop timeout a little more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["verify-service"]
# Listens on VERIFY_HOST:VERIFY_PORT (0.0.0.0:8080 above).
CMD ["serve"]
