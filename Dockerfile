# One image for the builder and the replicas (compose.yaml). Not built in this repository's CI.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/policyqa
COPY pyproject.toml README.md THIRD_PARTY_NOTICES.md ./
COPY src ./src
COPY app ./app
COPY tools ./tools
RUN pip install '.[serve,scale]' && useradd --system --home /srv/policyqa policyqa \
    && mkdir -p /srv/policyqa/var /srv/policyqa/index && chown -R policyqa /srv/policyqa/var /srv/policyqa/index
USER policyqa
EXPOSE 8000
CMD ["policyqa", "serve", "--host", "0.0.0.0", "--port", "8000"]
