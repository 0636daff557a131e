// The settings and controls writes: a settings update (object, entry or
// path), unsetting one key, and applying a scope's controls. Each checks the
// request (./requests.ts) and hands one Mutation to the store.
import { entriesObject } from "../domain/json.js";
import type { ControlFields, JsonObject, JsonValue, MutationResult } from "../domain/types.js";
import type { Store } from "../store/store.js";
import type { RequestChecks, SettingsUpdate, WriteInput } from "./requests.js";

export function settingsWrites(store: Store, req: RequestChecks) {
  return {
    async setSettings(input: WriteInput, update: SettingsUpdate): Promise<MutationResult & { key?: string }> {
      req.authorizeWrite(input);
      req.identifiers(input.sessionId);
      const r = req.rules();
      const mutation = req.toMutation(r, update);
      const options = req.provenance(r, input, "api");
      await req.admitWrite(input, r);
      const result = await store.mutate(input, mutation!, options);
      const key = mutation!.op === "set" || mutation!.op === "path" ? mutation!.key : undefined;
      return { ...result, key };
    },

    async unsetSetting(input: WriteInput, rawKey: string | undefined) {
      req.authorizeWrite(input);
      req.identifiers(input.sessionId);
      const r = req.rules();
      const key = r.key("key", rawKey);
      const options = req.provenance(r, input, "api");
      await req.admitWrite(input, r);
      return { ...(await store.mutate(input, { op: "unset", key: key! }, options)), key: key! };
    },

    /** `settings` undefined keeps the scope's settings; present replaces them. */
    async applyControls(
      input: WriteInput,
      controls: Partial<Record<keyof ControlFields, unknown>> | undefined,
      settings: JsonValue | undefined,
    ) {
      req.authorizeWrite(input);
      req.identifiers(input.sessionId);
      const r = req.rules();
      const fields = controls === undefined ? r.fail("controls", "is required") : r.controls("controls", controls);
      const replacement = settings === undefined ? undefined : r.settings("controls.settings", settings);
      const options = req.provenance(r, input, "ui");
      await req.admitWrite(input, r);
      const result = await store.mutate(input, { op: "controls", controls: fields!, settings: replacement }, options);
      const applied = { ...result.controls!, settings: entriesObject(result.settingsEntries!) };
      return { ...result, applied, summary: summarize(applied) };
    },
  };
}

export function summarize(t: ControlFields & { settings: JsonObject }): string {
  return [t.model ?? "default", t.approvalPolicy, t.networkAccess, t.filesystemSandbox, `settings:${Object.keys(t.settings).length}`].join(" | ");
}
