# One image for the four services: the command names the service's package (crm_customer,
# crm_followup, crm_scoring, crm_reporting), as compose.yaml and deploy/k8s run it.
#   docker build -t crm-backend .
#   docker run -e KAFKA_BOOTSTRAP_SERVERS=... -e MONGODB_URI=... -e CRM_AUTH_SECRET=... crm-backend crm_scoring

FROM python:3.11.7-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# The locked dependencies first, in a layer of their own that changes only with uv.lock; without
# the development tools and the local mongod (the image talks to a real cluster).
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY runtime/pyproject.toml runtime/
COPY services/customer/pyproject.toml services/customer/
COPY services/followup/pyproject.toml services/followup/
COPY services/scoring/pyproject.toml services/scoring/
COPY services/reporting/pyproject.toml services/reporting/
RUN uv sync --frozen --no-default-groups --no-install-workspace
# Then the workspace's own packages, installed (not linked to the sources, which stay here).
COPY contracts contracts
COPY runtime runtime
COPY services services
RUN uv sync --frozen --no-default-groups --no-editable

FROM python:3.11.7-slim-bookworm
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin crm
COPY --from=build /app/.venv /app/.venv
# Every service listens on 8000 in its container, on every interface (127.0.0.1 outside one).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CRM_HTTP_HOST=0.0.0.0 \
    CRM_HTTP_PORT=8000
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["python", "-m"]
CMD ["crm_customer"]
