// Holds N WatchSettings streams open against a server, in its own process so
// that the server's memory is measured without the clients'. Prints "ready"
// once every stream has been set up, then waits to be killed.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SettingsService } from "../gen/codexmanager/settings/v1/settings_pb.js";

const [url, sessionId, countText] = process.argv.slice(2);
const count = Number(countText);
const PER_CONNECTION = 250;
let opened = 0;
for (let i = 0; i < count; i++) {
  const client = createClient(SettingsService, createGrpcTransport({ baseUrl: url! }));
  void (async () => {
    try {
      for await (const _ of client.watchSettings({ sessionId: sessionId! })) {
        // Idle streams: only their existence is measured.
      }
    } catch {
      // The bench kills this process; errors then are expected.
    }
  })();
  opened++;
  if (opened % PER_CONNECTION === 0) await new Promise((r) => setTimeout(r, 50));
}
await new Promise((r) => setTimeout(r, 1500));
process.stdout.write("ready\n");
setInterval(() => {}, 1 << 30);
