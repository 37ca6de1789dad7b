FROM python:3.11-slim
# git is required: every task works in a git worktree of its repository
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY core ./core
COPY storage ./storage
COPY bot ./bot
COPY app ./app
COPY sandbox ./sandbox
RUN pip install --no-cache-dir .
RUN useradd --create-home orch && mkdir -p /data && chown orch /data
USER orch
# the database, clones and run logs live in the volume; the HTTP face serves /healthz
# on every interface of the container (orch alone listens on loopback by default)
ENV ORCH_DB_PATH=/data/orch.db ORCH_REPOS_DIR=/data/repos ORCH_HTTP_PORT=8080 ORCH_HTTP_HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['ORCH_HTTP_PORT'] + '/healthz', timeout=4)"]
CMD ["orch", "run"]
