# syntax=docker/dockerfile:1
# CHM exporter image: build the package in one stage, copy only its virtualenv into a slim
# runtime that runs as an unprivileged user. Build from the repository root:
#   docker build -t chm-exporter .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/chm
COPY pyproject.toml README.md ./
COPY chm_exporter ./chm_exporter
RUN /opt/chm/bin/pip install . \
    && /opt/chm/bin/chm-exporter --version

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/chm/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 chm \
    && useradd --system --uid 10001 --gid chm --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin chm \
    && mkdir -p /etc/chm /var/lib/chm \
    && chown chm:chm /var/lib/chm
# The virtualenv lives at the same path in both stages, so its scripts keep working.
COPY --from=build /opt/chm /opt/chm
USER 10001:10001
EXPOSE 9840
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9840/-/healthy', timeout=4)"]
ENTRYPOINT ["chm-exporter"]
CMD ["--config.file=/etc/chm/chm.yml", "--web.listen-address=:9840"]
