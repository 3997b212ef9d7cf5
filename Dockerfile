# PayLedger service image (api, worker and migrate all use it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH="/app/.venv/bin:${PATH}"

RUN pip install uv \
    && groupadd --system app \
    && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/data \
    && chown -R app:app /app

WORKDIR /app
USER app

# Dependencies first: this layer is rebuilt only when the lock changes.
COPY --chown=app:app pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself.
COPY --chown=app:app README.md ./
COPY --chown=app:app domain ./domain
COPY --chown=app:app application ./application
COPY --chown=app:app adapters ./adapters
COPY --chown=app:app entrypoints ./entrypoints
RUN uv sync --frozen --no-dev

EXPOSE 8000
CMD ["payledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
