// connect's HandlerContext for one fast-path call, built lazily: a call that
// never reads its signal, headers or values allocates none of them.
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { Exchange, FastContext } from "./types.js";

export class CallContext implements FastContext {
  readonly requestMethod = "POST";
  private controller?: AbortController;
  private rqh?: Headers;
  private rsh?: Headers;
  private rst?: Headers;
  private vals?: ContextValues;

  constructor(private readonly exchange: Exchange) {}

  get method() {
    return this.exchange.method.method;
  }
  get service() {
    return this.exchange.method.service;
  }
  get protocolName() {
    return this.exchange.protocolName;
  }
  get url() {
    return this.exchange.url;
  }
  readonly timeoutMs = (): number | undefined => (this.exchange.deadline === undefined ? undefined : this.exchange.deadline - Date.now());

  /** Aborts when the client goes away, the deadline passes or the server shuts down. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = (this.controller = new AbortController());
      const { exchange } = this;
      if (exchange.done) controller.abort(new ConnectError("the call has finished", Code.Canceled));
      else if (!exchange.watchClient(() => this.abort(new ConnectError("the client went away", Code.Canceled)))) {
        controller.abort(new ConnectError("the client went away", Code.Canceled));
      } else if (exchange.shutdown.aborted) controller.abort(exchange.shutdown.reason);
      else {
        const onShutdown = () => this.abort(exchange.shutdown.reason);
        exchange.shutdown.addEventListener("abort", onShutdown, { once: true });
        controller.signal.addEventListener("abort", () => exchange.shutdown.removeEventListener("abort", onShutdown), { once: true });
      }
    }
    return this.controller.signal;
  }

  /** Aborts the signal, if anyone has asked for it. */
  abort(reason: unknown): void {
    if (this.controller !== undefined && !this.controller.signal.aborted) this.controller.abort(reason);
  }

  get requestHeader(): Headers {
    if (this.rqh === undefined) {
      const out = new Headers();
      const h = this.exchange.headers;
      for (const name in h) {
        if (name.charCodeAt(0) === 58) continue; // HTTP/2 pseudo-headers (":path")
        const value = h[name];
        if (Array.isArray(value)) for (const v of value) out.append(name, v);
        else if (value !== undefined) out.append(name, String(value));
      }
      this.rqh = out;
    }
    return this.rqh;
  }
  /** One request header as Node received it, without building the Headers object. */
  rawHeader(name: string): string | undefined {
    const value = this.exchange.headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  }
  get responseHeader(): Headers {
    return (this.rsh ??= new Headers());
  }
  get responseTrailer(): Headers {
    return (this.rst ??= new Headers());
  }
  /** The response headers or trailers set so far, without creating them. */
  get setHeaders(): Headers | undefined {
    return this.rsh;
  }
  get setTrailers(): Headers | undefined {
    return this.rst;
  }
  get existingValues(): ContextValues | undefined {
    return this.vals;
  }
  get values(): ContextValues {
    return (this.vals ??= this.exchange.values?.() ?? createContextValues());
  }
}
