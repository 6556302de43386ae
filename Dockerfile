# syntax=docker/dockerfile:1

# The one shopgraph image: every target (-target=gateway, users, …) runs from
# it. docker-compose.yml starts one container per target.

FROM golang:1.26 AS build
# The image pins GOTOOLCHAIN=local; auto fetches the go.mod toolchain if this
# golang:1.26 is older than it.
ENV GOTOOLCHAIN=auto
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO off: every dependency (pgx, the mongo driver, FerretDB's SQLite) is pure Go.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/shopgraph .

FROM alpine:3.22
# wget (busybox) is kept for the compose healthchecks; ca-certificates for
# https upstreams.
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 10001 shopgraph \
 && adduser -S -D -H -u 10001 -G shopgraph shopgraph \
 && mkdir -p /var/lib/shopgraph \
 && chown shopgraph:shopgraph /var/lib/shopgraph
COPY --from=build /out/shopgraph /usr/local/bin/shopgraph
USER 10001:10001
WORKDIR /var/lib/shopgraph
ENV SHOPGRAPH_HOST=0.0.0.0 \
    SHOPGRAPH_DATA_DIR=/var/lib/shopgraph
EXPOSE 4000 4001 4002 4003 4004 4005 4006 4007
ENTRYPOINT ["/usr/local/bin/shopgraph"]
