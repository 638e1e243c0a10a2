# syntax=docker/dockerfile:1
# One image with Legate and Envoy: `legate serve --envoy` runs Envoy as its
# child process, exactly as the end-to-end tests run it.

ARG GO_VERSION=1.26
ARG ENVOY_VERSION=v1.40.0

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static (no libc), reproducible paths, version stamped into main.version.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/legate ./cmd/legate

FROM envoyproxy/envoy:${ENVOY_VERSION}
COPY --from=build /out/legate /usr/local/bin/legate
# The Envoy image's envoy user is kept for Envoy's own entrypoint; Legate
# runs as a fixed numeric non-root user so runAsNonRoot can verify it.
USER 65532:65532
# HTTP and HTTPS listeners are unprivileged ports; health and metrics.
EXPOSE 8080 8443 8081 8082
ENTRYPOINT ["/usr/local/bin/legate", "serve", "--envoy", "--envoy-path", "/usr/local/bin/envoy"]
