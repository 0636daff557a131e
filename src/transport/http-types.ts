// The request and response objects every path below the one port takes:
// Node's http ones (HTTP/1.1) or http2's request/response API (HTTP/2),
// as connect-node's adapter types them.
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type Fallback = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
export type Req = Parameters<Fallback>[0];
export type Res = Parameters<Fallback>[1];
