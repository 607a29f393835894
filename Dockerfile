# One image for every node of docker-compose.yml: kappa-node on Node.js 22
# (libp2p 3 needs >= 22), with bubblewrap so jobs run for other nodes are
# sandboxed as on a real machine. Two stages: the build (TypeScript, dev
# dependencies) stays behind; the image holds production dependencies only
# and runs as the unprivileged `node` user.

FROM node:22-slim AS build
WORKDIR /src
# the whole context (see .dockerignore): `npm ci` runs `prepare`, which builds with tsc
COPY . .
RUN npm ci --no-audit --no-fund

FROM node:22-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/kappa-node
COPY package.json package-lock.json ./
# production dependencies only; the image's own Node 22 runs it, so the
# pinned `node` package (for machines with an older Node) is left out
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node \
 && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY bin ./bin
COPY LICENSE README.md ./
RUN ln -s /opt/kappa-node/bin/kappa-node /usr/local/bin/kappa-node \
 && mkdir -p /kappa && chown node:node /kappa

USER node
# keys/<node> of the host is mounted here (identity.key, trust.json): writable by uid 1000
ENV KAPPA_HOME=/kappa
# 4747 libp2p; 4748 the dashboard and /metrics, which bind 127.0.0.1 unless
# asked (KAPPA_HTTP=0.0.0.0:4748 and -p 4748:4748 make them reachable)
EXPOSE 4747 4748
# the node answers on its control socket
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["kappa-node", "id", "--json"]
ENTRYPOINT ["kappa-node"]
CMD ["start", "--listen", "/ip4/0.0.0.0/tcp/4747", "--no-mdns"]
