# One image for every node of docker-compose.yml: kappa-node on Node.js 22
# (libp2p 3 needs >= 22), with bubblewrap so jobs run for other nodes are
# sandboxed as on a real machine.
FROM node:22-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kappa-node
# the whole context (see .dockerignore): `npm ci` runs `prepare`, which builds with tsc
COPY . .
RUN npm ci --no-audit --no-fund \
 && ln -s /opt/kappa-node/bin/kappa-node /usr/local/bin/kappa-node

# keys/<node> of the host is mounted here (identity.key, trust.json)
ENV KAPPA_HOME=/kappa
EXPOSE 4747
ENTRYPOINT ["kappa-node"]
CMD ["start", "--listen", "/ip4/0.0.0.0/tcp/4747", "--no-mdns"]
