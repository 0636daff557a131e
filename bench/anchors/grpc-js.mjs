// Anchor B: an @grpc/grpc-js server answering BenchService/Noop, messages
// (de)serialised with protobuf-es like the service's. Every ratio target
// divides by this server's CPU per call, measured in the same round.
//   taskset -c 0 node bench/anchors/grpc-js.mjs
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { NoopRequestSchema, NoopResponseSchema } from "../../dist/gen/codexmanager/bench/v1/bench_pb.js";
import { announce } from "../child.mjs";

const definition = {
  Noop: {
    path: "/codexmanager.bench.v1.BenchService/Noop",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(toBinary(NoopRequestSchema, m)),
    requestDeserialize: (b) => fromBinary(NoopRequestSchema, b),
    responseSerialize: (m) => Buffer.from(toBinary(NoopResponseSchema, m)),
    responseDeserialize: (b) => fromBinary(NoopResponseSchema, b),
  },
};

const server = new grpc.Server();
server.addService(definition, { Noop: (_call, callback) => callback(null, create(NoopResponseSchema)) });
server.bindAsync(`127.0.0.1:${Number(process.env.PORT ?? 0)}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announce("anchor-grpc-js", port, () => new Promise((r) => server.tryShutdown(() => r())));
});
