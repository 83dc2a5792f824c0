# syntax=docker/dockerfile:1
# Node 24 LTS. Build stage: compile TypeScript and the native addon (better-sqlite3).
FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no sources yet for the "prepare" build; this layer stays cached across code
# changes. The one dependency that needs its install script is rebuilt explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: the built server and its production dependencies, run as a non-root user.
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjemalloc2 tini \
 && rm -rf /var/lib/apt/lists/*
# LD_PRELOAD: sharp (libvips) fragments glibc's allocator under concurrent images and RSS keeps
# growing; jemalloc keeps it flat (sharp's documentation, "Memory allocator").
ENV NODE_ENV=production \
    PORT=3000 \
    STORAGE_DIR=/app/storage \
    LD_PRELOAD=libjemalloc.so.2
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
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
