/**
 * bobcat on Cloudflare Workers. The config is text in the bundle (there is no file system);
 * `${env.NAME}` reads the Worker's string bindings (vars and secrets). Sessions of `/` live in
 * this isolate's memory (one isolate's users only, gone when it is evicted); those of `/shop`
 * live in PostgreSQL, reached over TCP with one connection per operation, and every write a
 * request causes is handed to ctx.waitUntil. Create the table once with
 * `bobcat store init --print` (or see README, DataSourceStore).
 */
import { createHandler } from "bobcat/edge";
import app from "../app.ts";

const configText = `
server:
  globalNamingResources:
    resources:
      - { name: jdbc/sessions, type: DataSource, url: "\${env.DATABASE_URL:-postgres://localhost/sessions}" }
  services:
    - connectors: [{ port: 80, redirectPort: 443 }]
      engine:
        defaultHost: localhost
        hosts:
          - name: localhost
            contexts:
              - path: ""
                handler: app:main
                securityConstraints: [{ urlPatterns: ["/account/*"], transportGuarantee: CONFIDENTIAL }]
              - path: /shop
                handler: app:main
                manager:
                  className: PersistentManager
                  maxIdleBackup: 0
                  store: { className: DataSourceStore, dataSourceName: jdbc/sessions }
`;

export default createHandler({ configText, handlers: { "app:main": app } });
