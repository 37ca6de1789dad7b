FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY storage ./storage
COPY bot ./bot
COPY app ./app
COPY sandbox ./sandbox
RUN pip install --no-cache-dir .
RUN useradd --create-home orch && mkdir -p /data && chown orch /data
USER orch
ENV ORCH_DB_PATH=/data/orch.db ORCH_REPOS_DIR=/data/repos
VOLUME ["/data"]
CMD ["orch", "run"]
