// An OTLP/HTTP trace receiver that takes every export and drops it, for the
// tracing scenarios (scenarios/tracing.ts): the service's exporter does all
// of its work (serializing, sending, waiting for the answer) and the sink's
// CPU is its own, on core 1.
//   taskset -c 1 node bench/otlp-sink.mjs     (READY ... port=)
import http from "node:http";
import { announce } from "./child.mjs";

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
});
server.listen(0, "127.0.0.1", () => announce("otlp-sink", server.address().port, () => new Promise((r) => server.close(r))));
