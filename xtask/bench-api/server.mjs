// Starts PostGraphile on 127.0.0.1:$BENCH_PORT with graphile.config.mjs, for `cargo xtask
// bench-api` (xtask/src/bench_api.rs). SIGTERM or SIGINT stops it.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import preset from "./graphile.config.mjs";

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
serv.addTo(server).catch((e) => {
  console.error(e);
  process.exit(1);
});
server.listen(preset.grafserv.port, preset.grafserv.host, () => {
  console.log(
    `PostGraphile listening on http://${preset.grafserv.host}:${preset.grafserv.port}/graphql (pid ${process.pid})`,
  );
});
const stop = async () => {
  server.close();
  await pgl.release();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
