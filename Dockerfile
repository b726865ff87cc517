# syntax=docker/dockerfile:1
#
# prunner in a container. Build: docker build -t prunner .
# Add your pipelines (and the tools their tasks call) in an image FROM this one, or mount them at
# /srv/prunner. Run: docker run -p 9009:9009 -v prunner-data:/var/lib/prunner \
#   -e PRUNNER_JWT_SECRET=... --stop-timeout 300 prunner

# The build stage runs on the build machine's own platform and cross-compiles the Linux binary for
# the image's platform (deno compile fetches the denort runtime for that target), the same binary
# a release ships. To use a prebuilt binary instead, replace this stage by one that copies it to
# /out/prunner.
FROM --platform=$BUILDPLATFORM denoland/deno:2.9.6 AS build
ARG TARGETARCH
# The version prunner reports; empty means deno.json's version.
ARG PRUNNER_VERSION=""
WORKDIR /src
COPY . .
RUN case "$TARGETARCH" in \
      amd64) target=linux-x86_64 ;; \
      arm64) target=linux-aarch64 ;; \
      *) echo "prunner is built for amd64 and arm64 images, not '$TARGETARCH'" >&2; exit 1 ;; \
    esac \
 && PRUNNER_VERSION="$PRUNNER_VERSION" deno task compile --target "$target" --out-dir /out \
 && mv /out/prunner-*-"$target" /out/prunner

# Debian slim: glibc for the Deno runtime, and the sh that task scripts run in.
FROM debian:bookworm-slim
# tini runs as PID 1: it forwards signals to prunner and reaps orphans (a task's killed
# grandchildren are re-parented to PID 1 and would otherwise stay zombies).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 prunner \
 && useradd --system --uid 10001 --gid prunner --create-home --home-dir /home/prunner prunner \
 && mkdir -p /srv/prunner /var/lib/prunner \
 && chown prunner:prunner /var/lib/prunner
COPY --from=build /out/prunner /usr/local/bin/prunner

# Pipelines below /srv/prunner (the working directory, where .env files are read too); job data
# and the generated config with the JWT secret in the volume; the API on all interfaces (:9009),
# not only the container's localhost. Each is a flag's environment variable, so `-e` overrides it.
ENV PRUNNER_PATH=/srv/prunner \
    PRUNNER_DATA=/var/lib/prunner/data \
    PRUNNER_CONFIG=/var/lib/prunner/prunner.yml \
    PRUNNER_ADDRESS=:9009
WORKDIR /srv/prunner
VOLUME /var/lib/prunner
EXPOSE 9009
USER prunner
# GET /health answers 200 while the data directory takes writes and the task executor answers, 503
# otherwise. No curl in the image: bash's /dev/tcp asks at the port of PRUNNER_ADDRESS.
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PRUNNER_ADDRESS##*:} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# SIGINT is prunner's graceful stop: running jobs finish first (give `docker stop` the time with
# --stop-timeout or -t).
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/bin/tini", "--", "prunner"]
