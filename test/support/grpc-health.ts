// A grpc.health.v1.Health client made with @grpc/grpc-js, the gRPC
// implementation probes and proxies use, not with connect: the service must
// answer a gRPC stack other than its own. Messages are encoded with the
// generated protobuf-es schemas.
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";

export { Status };

const codec = <D extends DescMessage>(schema: D) => ({
  serialize: (m: MessageShape<D>) => Buffer.from(toBinary(schema, m)),
  deserialize: (b: Buffer) => fromBinary(schema, b),
});

/** Both methods take and answer the same messages. */
const messages = {
  requestSerialize: codec(HealthCheckRequestSchema).serialize,
  requestDeserialize: codec(HealthCheckRequestSchema).deserialize,
  responseSerialize: codec(HealthCheckResponseSchema).serialize,
  responseDeserialize: codec(HealthCheckResponseSchema).deserialize,
};

const definition = {
  check: { path: "/grpc.health.v1.Health/Check", requestStream: false, responseStream: false, ...messages },
  watch: { path: "/grpc.health.v1.Health/Watch", requestStream: false, responseStream: true, ...messages },
} satisfies grpc.ServiceDefinition;

const HealthClient = grpc.makeGenericClientConstructor(definition, "Health");

export interface GrpcHealth {
  check(service?: string): Promise<Status>;
  /** The statuses a Watch has received so far, and how it ended (once it has). */
  watch(service?: string): { statuses: Status[]; ended: Promise<grpc.StatusObject>; cancel(): void };
  close(): void;
}

/** `address` is host:port; credentials are insecure (h2c) unless given. */
export function grpcHealth(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}): GrpcHealth {
  const client = new HealthClient(address, credentials, options) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  return {
    check: (service = "") =>
      new Promise((resolve, reject) =>
        client.check!(create(HealthCheckRequestSchema, { service }), (err: grpc.ServiceError | null, res: HealthCheckResponse) => (err ? reject(err) : resolve(res.status))),
      ),
    watch(service = "") {
      const statuses: Status[] = [];
      const call = client.watch!(create(HealthCheckRequestSchema, { service })) as grpc.ClientReadableStream<HealthCheckResponse>;
      call.on("data", (res: HealthCheckResponse) => statuses.push(res.status));
      call.on("error", () => {});
      const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
      return { statuses, ended, cancel: () => call.cancel() };
    },
    close: () => client.close(),
  };
}
