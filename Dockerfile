# One image for all four apps; docker-compose.yml picks the Procfile command.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY . .
RUN npm ci --omit=dev && npm cache clean --force
USER node
CMD ["node", "bin/vault.js", "start"]
