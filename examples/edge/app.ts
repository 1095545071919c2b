/** The application both examples deploy: a Hono app; sessions come from bobcat through c.env. */
import { Hono } from "hono";
import type { BobcatContext } from "bobcat/edge";

const app = new Hono<{ Bindings: BobcatContext }>();

app.get("/", (c) => {
  const session = c.env.getSession();
  const visits = (session?.getAttribute<number>("visits") ?? 0) + 1;
  session?.setAttribute("visits", visits);
  return c.json({ visits, session: session?.id, secure: c.env.secure });
});

app.get("/account/*", (c) => c.text(`only over HTTPS: ${c.req.path}`));

export default app;
