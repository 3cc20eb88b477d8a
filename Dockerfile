# Multi-stage build: a static binary on a distroless base, running as
# non-root. DNS on 53 needs CAP_NET_BIND_SERVICE (docker run --cap-add, or
# map a high port: -p 53:5300/udp -p 53:5300/tcp with a config listening on
# 0.0.0.0:5300).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/bulwark ./cmd/bulwark

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bulwark /usr/local/bin/bulwark
USER nonroot:nonroot
EXPOSE 5300/udp 5300/tcp 9153/tcp
ENTRYPOINT ["/usr/local/bin/bulwark"]
CMD ["serve"]
