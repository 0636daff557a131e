// Asserting on errors as a client sees them: the Connect code and the
// ErrorDetail's reason.
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { ErrorDetailSchema, type ErrorDetail } from "../../gen/codexmanager/settings/v1/errors_pb.js";

export async function expectFailure(call: Promise<unknown>, code: Code, reason?: string): Promise<ErrorDetail | undefined> {
  let caught: unknown;
  try {
    await call;
  } catch (err) {
    caught = err;
  }
  expect(caught, "the call should have failed").toBeInstanceOf(ConnectError);
  const err = caught as ConnectError;
  expect(Code[err.code], err.message).toBe(Code[code]);
  const detail = err.findDetails(ErrorDetailSchema)[0];
  if (reason !== undefined) expect(detail?.reason).toBe(reason);
  return detail;
}
