# syntax=docker/dockerfile:1
# Node 24 LTS throughout.

# Build stage: compile TypeScript (dev dependencies, no native build needed for that).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies. The lockfile pins better-sqlite3 12, which runs on Node 20 but aborts on
# Node 24 when a statement is garbage-collected (WiseLibs/better-sqlite3#1515); 13 (N-API, its
# binaries inside the npm package) is the version for Node 22 and later, so the image swaps it in.
# native/sha256-state (the resumable uploads' SHA-256, N-API glue to Node's OpenSSL) is compiled
# here, against the image's own Node headers.
FROM node:24-bookworm-slim AS dependencies
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild sha256-state --nodedir=/usr/local \
 && npm install --omit=dev --no-save --no-audit --no-fund better-sqlite3@^13.2.0

# Runtime: the built server and its production dependencies, run as a non-root user.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjemalloc2 tini \
 && rm -rf /var/lib/apt/lists/*
# LD_PRELOAD: sharp (libvips) fragments glibc's allocator under concurrent images and RSS keeps
# growing; jemalloc keeps it flat (sharp's documentation, "Memory allocator").
# --max-semi-space-size=16: under load V8 grows its young generation to 128 MiB and keeps it;
# capped, peak RSS is ~85 MiB lower at the same throughput (docs/benchmarks.md).
ENV NODE_ENV=production \
    PORT=3000 \
    STORAGE_DIR=/app/storage \
    LD_PRELOAD=libjemalloc.so.2 \
    NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /app
COPY --from=dependencies --chown=node:node /app/node_modules ./node_modules
# node_modules/sha256-state links here.
COPY --from=dependencies --chown=node:node /app/native ./native
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
RUN mkdir -p /app/storage && chown node:node /app/storage
USER node
VOLUME ["/app/storage"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini passes SIGTERM on to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/main.js"]
