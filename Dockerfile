# One image for all four apps; docker-compose.yml picks the Procfile command.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY . .
# VAULT_HOME (.vault: the embedded PostgreSQL and the development admin token, when
# DATABASE_URL is unset) must be the node user's to write; so must compose's archive volume,
# which takes the ownership of the directory it is first mounted on.
RUN npm ci --omit=dev && npm cache clean --force && mkdir -p .vault && chown node:node .vault \
 && mkdir -p /var/lib/vault/archive && chown node:node /var/lib/vault/archive
USER node
CMD ["node", "bin/vault.js", "start"]
