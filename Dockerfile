# A plait worker: git, Node.js with the agent CLIs plait is tested with, and plait with
# Temporal's SDK. See docs/scale-out.md.
#
#   docker build -t plait-worker .
#   docker run -d --env-file worker.env -v plait-worker-1:/var/lib/plait-worker \
#       plait-worker --temporal temporal.internal:7233 --queue plait --agents claude,codex
#
# worker.env holds the agents' keys (ANTHROPIC_API_KEY, OPENAI_API_KEY, …) and, for
# Temporal Cloud, the API key named by --api-key-env. Nothing secret is baked in.
FROM node:20-bookworm-slim

# Debian bookworm's python3 is 3.11, the version plait targets. tini reaps what agents
# leave behind, since the worker runs as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      git python3 python3-venv ca-certificates openssh-client tini \
 && rm -rf /var/lib/apt/lists/*

# The agent CLIs, pinned as in the test suite (tools/agent-clis).
COPY tools/agent-clis/package.json tools/agent-clis/package-lock.json /opt/agent-clis/
RUN cd /opt/agent-clis \
 && npm ci --no-audit --no-fund \
 && ln -s /opt/agent-clis/node_modules/.bin/* /usr/local/bin/

COPY pyproject.toml README.md /src/
COPY src /src/src
RUN python3 -m venv /opt/plait \
 && /opt/plait/bin/pip install --no-cache-dir '/src[temporal]' \
 && ln -s /opt/plait/bin/plait /usr/local/bin/plait

RUN useradd --create-home --uid 10001 plait \
 && mkdir -p /var/lib/plait-worker \
 && chown plait /var/lib/plait-worker
USER plait
ENV PLAIT_HOME=/var/lib/plait-worker
VOLUME /var/lib/plait-worker

ENTRYPOINT ["tini", "--", "plait", "worker", "--dir", "/var/lib/plait-worker"]
CMD ["--help"]
