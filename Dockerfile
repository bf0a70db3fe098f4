# One image for the web process (default) and the workers (override the command).
#   docker build -t hoian-guide .
#   docker run -e APP_ENV=production -e SECRET_KEY=... -e DATABASE_URL=postgresql://... \
#     -e REDIS_URL=redis://... -e PUBLIC_BASE_URL=https://guide.hoian.vn -p 8000:8000 hoian-guide
#   worker: docker run ... hoian-guide rq worker --url "$REDIS_URL" default
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    FLASK_APP=wsgi:app GUNICORN_BIND=0.0.0.0:8000

RUN useradd --create-home --uid 10001 hoian
WORKDIR /srv/hoian

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=hoian:hoian . .
USER hoian

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# Migrations run as a release step: docker run ... hoian-guide flask db upgrade
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
