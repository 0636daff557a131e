// The SDK's one error type: a ConnectError with the service's reason read
// out of its ErrorDetail, and the request id of the write that failed.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, type ErrorDetail } from "../../gen/codexmanager/settings/v1/errors_pb.js";

/** Every failure, with the service's reason (e.g. "SESSION_DELETED") when it sent one. */
export class SettingsError extends Error {
  override readonly name = "SettingsError";
  readonly reason: string | undefined;
  readonly detail: ErrorDetail | undefined;
  /**
   * On a failed write: the request id it was sent with. After OUTCOME_UNKNOWN,
   * sending the same write again with this id applies it at most once.
   */
  requestId: string | undefined;
  constructor(override readonly cause: ConnectError) {
    super(cause.rawMessage);
    this.detail = cause.findDetails(ErrorDetailSchema)[0];
    this.reason = this.detail?.reason || undefined;
  }
  get code(): Code {
    return this.cause.code;
  }
}

export const settingsError = (err: unknown) => (err instanceof ConnectError ? new SettingsError(err) : err);

export async function guard<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw settingsError(err);
  }
}
