// What connect-es's protocol helpers answer, through the one module that
// uses them (transport/rpc/connect-protocol.ts). connect marks them internal,
// so an upgrade may change them without notice; the fast path's answers must
// stay exactly connect's, byte for byte. If this fails after an upgrade, read
// what changed before touching the expectations: every client decodes the
// fast path's timeouts, statuses, trailers and error bodies through them.
import { create } from "@bufbuild/protobuf";
import { compressionGzip } from "@connectrpc/connect-node";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/codexmanager/settings/v1/errors_pb.js";
import { codeName, connectEndStream, connectUnaryError, grpcStatus, grpcWebTrailers, parseCallTimeout } from "../src/transport/rpc/connect-protocol.js";

const error = () =>
  new ConnectError("no such session: ü", Code.NotFound, { "x-extra": "1" }, [
    { desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { reason: "SESSION_NOT_FOUND", sessionId: "s1" }) },
  ]);
const DETAILS_BIN =
  "CAUSE25vIHN1Y2ggc2Vzc2lvbjogw7waUwo4dHlwZS5nb29nbGVhcGlzLmNvbS9jb2RleG1hbmFnZXIuc2V0dGluZ3MudjEuRXJyb3JEZXRhaWwSFwoRU0VTU0lPTl9OT1RfRk9VTkQSAnMx";
const DETAIL_JSON = '{"type":"codexmanager.settings.v1.ErrorDetail","debug":{"reason":"SESSION_NOT_FOUND","sessionId":"s1"},"value":"ChFTRVNTSU9OX05PVF9GT1VORBICczE"}';

/** An envelope's flags and declared length, and its payload as text. */
const unwrap = (frame: Buffer) => ({ flags: frame[0], length: frame.readUInt32BE(1), text: frame.subarray(5).toString("utf8") });

describe("connect-es's protocol helpers, as the fast path uses them", () => {
  it("parses gRPC and Connect timeouts, and refuses malformed ones as invalid_argument", () => {
    expect(parseCallTimeout("grpc", "5S")).toEqual({ timeoutMs: 5000 });
    expect(parseCallTimeout("grpc-web", "100m")).toEqual({ timeoutMs: 100 });
    expect(parseCallTimeout("grpc", "2M")).toEqual({ timeoutMs: 120_000 });
    expect(parseCallTimeout("grpc", "7u")).toEqual({ timeoutMs: 0.007 });
    expect(parseCallTimeout("connect", "1500")).toEqual({ timeoutMs: 1500 });
    const grpc = parseCallTimeout("grpc", "1x").error;
    expect(grpc?.code).toBe(Code.InvalidArgument);
    expect(grpc?.rawMessage).toBe("protocol error: invalid grpc timeout value: 1x");
    const connect = parseCallTimeout("connect", "1.5").error;
    expect(connect?.code).toBe(Code.InvalidArgument);
    expect(connect?.rawMessage).toBe("protocol error: invalid connect timeout value: 1.5");
  });

  it("writes gRPC's status trailers: code, percent-encoded message, details, metadata and the call's trailers", () => {
    expect(grpcStatus(error(), new Headers({ "x-t": "v" }))).toEqual({
      "grpc-message": "no%20such%20session%3A%20%C3%BC",
      "grpc-status": "5",
      "grpc-status-details-bin": DETAILS_BIN,
      "x-extra": "1",
      "x-t": "v",
    });
    expect(grpcStatus(undefined)).toEqual({ "grpc-status": "0" });
  });

  it("writes gRPC-Web's trailers envelope (flag 0x80)", () => {
    const failed = unwrap(grpcWebTrailers(error()));
    expect(failed.flags).toBe(0x80);
    expect(failed.text).toBe(`grpc-message: no%20such%20session%3A%20%C3%BC\r\ngrpc-status: 5\r\ngrpc-status-details-bin: ${DETAILS_BIN}\r\nx-extra: 1\r\n`);
    expect(failed.length).toBe(Buffer.byteLength(failed.text));
    expect(unwrap(grpcWebTrailers(undefined, new Headers({ "x-t": "v" })))).toEqual({ flags: 0x80, length: 24, text: "grpc-status: 0\r\nx-t: v\r\n" });
  });

  it("writes a Connect stream's end-of-stream envelope (flag 0x02)", () => {
    expect(unwrap(connectEndStream(error(), new Headers({ "x-t": "v" })))).toEqual({
      flags: 2,
      length: 261,
      text: `{"error":{"code":"not_found","message":"no such session: ü","details":[${DETAIL_JSON}]},"metadata":{"x-extra":["1"],"x-t":["v"]}}`,
    });
    expect(unwrap(connectEndStream(undefined))).toEqual({ flags: 2, length: 2, text: "{}" });
  });

  it("writes a Connect unary error: its HTTP status, the error's metadata as headers, the JSON body", () => {
    const answer = connectUnaryError(error());
    expect(answer.status).toBe(404);
    expect(answer.headers).toEqual({ "content-type": "application/json", "x-extra": "1" });
    expect(Buffer.from(answer.body).toString("utf8")).toBe(`{"code":"not_found","message":"no such session: ü","details":[${DETAIL_JSON}]}`);
  });

  it("names each code and maps it to Connect's HTTP status", () => {
    const seen = Object.fromEntries(
      [Code.Canceled, Code.InvalidArgument, Code.DeadlineExceeded, Code.NotFound, Code.AlreadyExists, Code.PermissionDenied, Code.ResourceExhausted, Code.FailedPrecondition, Code.Aborted, Code.OutOfRange, Code.Internal, Code.Unavailable, Code.Unauthenticated].map(
        (code) => [codeName(code), connectUnaryError(new ConnectError("m", code)).status],
      ),
    );
    expect(seen).toEqual({
      canceled: 499,
      invalid_argument: 400,
      deadline_exceeded: 504,
      not_found: 404,
      already_exists: 409,
      permission_denied: 403,
      resource_exhausted: 429,
      failed_precondition: 400,
      aborted: 409,
      out_of_range: 400,
      internal: 500,
      unavailable: 503,
      unauthenticated: 401,
    });
  });
});

describe("connect-node's decompression, as connect-fallback.ts holds it to the body limit", () => {
  it("refuses an output past the bound with resource_exhausted, and corrupt input with invalid_argument", async () => {
    const packed = await compressionGzip.compress(new Uint8Array(1025));
    expect((await compressionGzip.decompress(packed, 1025)).length).toBe(1025);
    const past = await compressionGzip.decompress(packed, 1024).catch((err: unknown) => err);
    expect(ConnectError.from(past).code).toBe(Code.ResourceExhausted);
    const corrupt = await compressionGzip.decompress(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), 1024).catch((err: unknown) => err);
    expect(ConnectError.from(corrupt).code).toBe(Code.InvalidArgument);
  });
});
