# syntax=docker/dockerfile:1
# qmig sidecar image. Build from the repository root:  docker build -t qmig:0.1.0 .
# Run beside a RabbitMQ node (same network namespace), e.g. deploy/compose or deploy/kubernetes.

# Node.js 26, the Active LTS line (Node 20 reached end of life in April 2026). The code also runs
# on Node >= 20.10 (package.json "engines"; the test suite runs on the development machine's Node).
ARG NODE_IMAGE=node:26-trixie-slim

# --- build: all dependencies, TypeScript compiled to dist/ ---------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- production dependencies only -----------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# A young generation of 4 MB semi-spaces (Node's default lets it grow to 16 MB each): the sidecar
# allocates briskly while it moves small queues; this keeps its RSS near 130 MB in a 500-queue
# migration instead of 160 MB, for a few percent more CPU (npm run bench:all uses the same).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=4 \
    QMIG_LISTEN_HOST=0.0.0.0 \
    QMIG_LISTEN_PORT=15680
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# `qmig` on the PATH (kubectl exec … -- qmig status): the bin of package.json, run by its shebang.
RUN chmod 755 dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/qmig
COPY package.json ./
COPY schemas ./schemas
# Writable place for tar snapshots (QMIG_SNAPSHOT_MODE=tar); everything else can be read-only.
RUN mkdir -p /var/lib/qmig/snapshots && chown -R 1000:1000 /var/lib/qmig
# The base image's unprivileged "node" user, by number so runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 15680
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.QMIG_LISTEN_PORT || 15680) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `qmig` is package.json's bin (dist/cli/main.js); `serve` starts the sidecar.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
