// One write checked against the schemas on Redis (./schema-view.ts), sent
// again while its script answers SCHEMA_STALE: the schemas moved (read them
// again), or the value a path write was checked on did (the answer carries
// its text now, so the next try needs no read of its own). After
// SCHEMA_TRIES tries the script's answer stands (503, not applied); a write
// that keeps losing claims the field (lua/includes/schema.lua). The
// check's own reads answer unavailable if the budget runs out (nothing was
// sent). A path write into a key with a schema takes its turn with all its
// tries; one that learns only on the way that its key has a schema starts
// again in line.
import { randomUUID } from "node:crypto";
import type { Issue } from "../../domain/errors.js";
import type { Mutation } from "../../domain/types.js";
import type { CallBudget } from "./call-budget.js";
import type { CheckedWrite, SchemaView } from "./schema-view.js";
import { SCHEMA_STALE } from "./script-codes.js";

/**
 * Tries of a write whose schemas (or checked value) kept changing under it.
 * Each try after a lost compare-and-set is one round trip, and the store's
 * budget (STORE_TIMEOUT_MS) bounds them all; two instances hammering one key
 * each lose a try now and then, 16 in a row about never.
 */
const SCHEMA_TRIES = 16;
/** Lost compare-and-sets after which a write claims the field (lua/includes/schema.lua). */
const CLAIM_AFTER = 2;

export interface CheckedWriteParts {
  view: SchemaView;
  /** Runs one command within a budget (the store's outcome rules). */
  run: <T>(budget: CallBudget, fn: () => Promise<T>) => Promise<T>;
  budget: CallBudget;
  /** Checks the write; `moved` is the checked value's text as the script last saw it. */
  check: (moved?: { text: string | null }) => Promise<CheckedWrite>;
  send: (checked: CheckedWrite) => Promise<unknown[]>;
  /** A path write: the settings hash and the mutation. */
  path?: { hash: string; mutation: Extract<Mutation, { op: "path" }> };
}

export async function checkedWrite({ view, run, budget, check, send, path }: CheckedWriteParts): Promise<{ reply: unknown[]; issues: Issue[] }> {
  let moved: { text: string | null } | undefined;
  let tries = 0;
  let lost = 0;
  const token = randomUUID();
  const attempts = async (inLine: boolean) => {
    for (;;) {
      tries++;
      const checked = await run({ ...budget, kind: "read" }, async () => ({ ...(await check(moved)), token, claim: lost >= CLAIM_AFTER }));
      const reply = await run(budget, () => send(checked));
      if (reply[0] !== SCHEMA_STALE || tries >= SCHEMA_TRIES) return { reply, issues: checked.issues };
      if (reply.length > 1) {
        moved = { text: typeof reply[1] === "string" ? reply[1] : null };
        // Another write's claim stands: it commits next; give it that moment.
        if (reply[2] === "claimed") await new Promise((r) => setTimeout(r, 1));
        else lost++;
      } else {
        moved = undefined;
        view.stale();
        if (!inLine) return undefined;
      }
    }
  };
  for (;;) {
    const inLine = path !== undefined && view.readsStored(path.mutation);
    const done = inLine ? await view.serially(path!.hash, path!.mutation.key, () => attempts(true)) : await attempts(path === undefined);
    if (done) return done;
  }
}
