# Build: docker build -t taskrunner .
# Run:   docker run -e APP_ENV=online -e TASKRUNNER_MYSQL_PASSWORD=... taskrunner
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (the SQLite driver included): a static binary.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/taskrunner .

FROM alpine:3.20
RUN adduser -D -H -u 10001 taskrunner \
 && mkdir -p /app/data \
 && chown taskrunner /app/data
WORKDIR /app
COPY --from=build /out/taskrunner /app/taskrunner
COPY conf /app/conf
# online reads conf/online/*.toml; override with -e APP_ENV=test (or local,
# whose SQLite file then needs a writable path: TASKRUNNER_COMMON_APP_SQLITE_PATH=/app/data/taskrunner.db).
ENV APP_ENV=online
USER taskrunner
ENTRYPOINT ["/app/taskrunner"]
CMD ["run"]
