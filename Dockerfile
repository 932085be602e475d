# WA Gateway container image, in two variants (build targets):
#
#   core       the MIT gateway with the sandbox engine only
#              docker build --target core -t wagateway:core .
#   whatsmeow  core plus the real WhatsApp engine (the `whatsmeow` extra: neonize, whose
#              shared library links whatsmeow (MPL-2.0) with libsignal (GPL-3.0)), and
#              libmagic1, which neonize needs
#              docker build --target whatsmeow -t wagateway:whatsmeow .   (the default target)
#
# Licences and where each image's sources are: README.md, "Docker".
#
# BASE_IMAGE is any Debian bookworm image (Python is Debian's python3, 3.11). CI builds on a
# base it makes itself with debootstrap (scripts/build-image), the same Debian as this default.
ARG BASE_IMAGE=debian:bookworm-slim

# Stages: `python` (Debian's Python, the user, what every variant declares), then each
# variant's dependencies in a layer of their own, keyed on pyproject.toml alone, then the
# code. A change to the code rebuilds only the code's layer (seconds); the dependencies are
# downloaded and installed again only when pyproject.toml changes.
FROM ${BASE_IMAGE} AS python
# Early, so every layer built here carries it (scripts/build-image prunes its old ones by it).
LABEL org.opencontainers.image.title="WA Gateway"
ARG DEBIAN_FRONTEND=noninteractive
# No PYTHONDONTWRITEBYTECODE: with it pip compiles nothing while it installs, and the code,
# read-only to the gateway's user, would be compiled again at every start (benchmarks/README.md,
# "Start-up with many devices"). Nothing is written at run time either way.
ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# An unprivileged user owning only the data dir; the code in /opt is root's, read-only to it.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin wagateway \
    && install -d -o wagateway -g wagateway -m 0700 /data
COPY LICENSE /usr/share/doc/wagateway/LICENSE
ENV PATH=/opt/wagateway/bin:$PATH \
    WAGW_DATA_DIR=/data \
    WAGW_HOST=0.0.0.0 \
    WAGW_PORT=8080
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /health answers 200 while the database works (503 when it does not); urlopen raises on 503.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('WAGW_PORT', '8080'), timeout=4)"]
CMD ["wagateway", "serve"]

# Each variant's pinned requirements, read from pyproject.toml: the project's dependencies
# (core.txt) and the `whatsmeow` extra's (whatsmeow.txt).
FROM python AS requirements
COPY pyproject.toml /tmp/pyproject.toml
RUN mkdir /requirements && python3 -c 'import tomllib; \
project = tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]; \
open("/requirements/core.txt", "w").write("\n".join(project["dependencies"])); \
open("/requirements/whatsmeow.txt", "w").write("\n".join(project["optional-dependencies"]["whatsmeow"]))'

FROM python AS core-dependencies
COPY --from=requirements /requirements/core.txt /tmp/requirements/
RUN python3 -m venv /opt/wagateway \
    && /opt/wagateway/bin/pip install --no-cache-dir --disable-pip-version-check \
        -r /tmp/requirements/core.txt \
    && rm -rf /tmp/requirements

FROM core-dependencies AS whatsmeow-dependencies
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=requirements /requirements/whatsmeow.txt /tmp/requirements/
RUN /opt/wagateway/bin/pip install --no-cache-dir --disable-pip-version-check \
        -r /tmp/requirements/whatsmeow.txt \
    && rm -rf /tmp/requirements

# The code, built once into a wheel for both variants.
FROM core-dependencies AS wheel
COPY pyproject.toml README.md /tmp/wagateway-src/
COPY src /tmp/wagateway-src/src
RUN /opt/wagateway/bin/pip wheel --no-cache-dir --disable-pip-version-check --no-deps \
        --wheel-dir /wheel /tmp/wagateway-src

# Each variant: the wheel installed on its dependencies, without them; `pip check` fails the
# build if the dependencies layer does not satisfy the code.
FROM core-dependencies AS core
COPY --from=wheel /wheel /tmp/wheel
RUN /opt/wagateway/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
        /tmp/wheel/*.whl \
    && /opt/wagateway/bin/pip check \
    && rm -rf /tmp/wheel
LABEL org.opencontainers.image.description="Self-hosted multi-tenant WhatsApp gateway: sandbox engine only" \
      org.opencontainers.image.licenses="MIT"
USER wagateway

FROM whatsmeow-dependencies AS whatsmeow
COPY --from=wheel /wheel /tmp/wheel
RUN /opt/wagateway/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
        /tmp/wheel/*.whl \
    && /opt/wagateway/bin/pip check \
    && rm -rf /tmp/wheel
LABEL org.opencontainers.image.description="Self-hosted multi-tenant WhatsApp gateway: sandbox and real WhatsApp (neonize/whatsmeow) engines" \
      org.opencontainers.image.licenses="MIT AND Apache-2.0 AND MPL-2.0 AND GPL-3.0"
USER wagateway
