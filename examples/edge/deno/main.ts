/**
 * bobcat under `deno serve`, with the network and this config file only:
 *
 *   deno serve --allow-net --allow-read=server.yaml main.ts
 *
 * Sessions of `/` live in this process's memory; those of `/shop` in PostgreSQL (a pool, as on a
 * server). Nothing is read at module load but the config.
 */
import { createHandler } from "bobcat/edge";
import app from "../app.ts";

const configText = await Deno.readTextFile(new URL("./server.yaml", import.meta.url));

export default createHandler({ configText, handlers: { "app:main": app } });
