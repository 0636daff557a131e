// Anchor A: bare node:http2 "stream" handler, a hand-written gRPC no-op (no
// decoding, a constant answer): the floor of what Node's HTTP/2 costs per call.
// Same HTTP/2 settings as the service (src/transport/one-port.ts).
//   taskset -c 0 node bench/anchors/bare-http2.mjs
import http2 from "node:http2";
import { announce } from "../child.mjs";

const EMPTY_FRAME = Buffer.from([0, 0, 0, 0, 0]);
const RESPONSE_HEADERS = { ":status": 200, "content-type": "application/grpc" };
const OK_TRAILERS = { "grpc-status": "0" };
const ignore = () => {};
function sendOkTrailers() {
  this.sendTrailers(OK_TRAILERS);
}

const server = http2.createServer({ settings: { initialWindowSize: 4 * 1024 * 1024, maxConcurrentStreams: 1000 } });
server.on("stream", (stream) => {
  stream.on("error", ignore); // an RST with an error code would otherwise end the process
  stream.resume(); // the request body is read and dropped
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.on("wantTrailers", sendOkTrailers);
  stream.end(EMPTY_FRAME);
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  announce("anchor-bare-http2", server.address().port, () => new Promise((r) => server.close(r)));
});
