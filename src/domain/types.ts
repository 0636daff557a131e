// Domain types shared by the stores, the services and the transports.
// Values are plain JSON; the transports convert to and from protobuf.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

export type Scope = "session" | "default";

export const APPROVAL_POLICIES = ["untrusted", "on-failure", "on-request", "never"] as const;
export const NETWORK_ACCESS = ["restricted", "enabled"] as const;
export const FILESYSTEM_SANDBOXES = ["read-only", "workspace-write", "danger-full-access"] as const;

export type ApprovalPolicy = (typeof APPROVAL_POLICIES)[number];
export type NetworkAccess = (typeof NETWORK_ACCESS)[number];
export type FilesystemSandbox = (typeof FILESYSTEM_SANDBOXES)[number];

/** The four controls of a tuple; `model: null` inherits the runtime's default. */
export interface ControlFields {
  model: string | null;
  approvalPolicy: ApprovalPolicy;
  networkAccess: NetworkAccess;
  filesystemSandbox: FilesystemSandbox;
}

export const CONTROL_NAMES = ["model", "approvalPolicy", "networkAccess", "filesystemSandbox"] as const;

/** One scope's whole tuple, read at one revision. */
export interface Tuple extends ControlFields {
  settings: JsonObject;
  revision: bigint;
}

export interface SessionRecord {
  sessionId: string;
  cwd: string;
  createdAt: Date;
  /** The last change to the session's settings or controls; createdAt until the first. */
  updatedAt: Date;
  systemOwned: boolean;
  state: "active" | "deleted";
  deletedAt?: Date;
}

/** Addresses one tuple: a session's own, or the default through a session. */
export interface ScopeRef {
  sessionId: string;
  scope: Scope;
}

export type PathOp = "set" | "merge" | "unset";

/** A whole map as stored: keys with their canonical JSON text, unparsed. */
export type SettingsEntries = [key: string, text: string][];

/** A validated settings or controls write, as the stores apply it. */
export type Mutation =
  | { op: "set"; key: string; value: JsonValue }
  | { op: "merge"; settings: JsonObject }
  | { op: "replace"; settings: JsonObject }
  | { op: "path"; key: string; segments: string[]; pathOp: PathOp; value: JsonValue }
  | { op: "unset"; key: string }
  | { op: "controls"; controls: ControlFields; settings?: JsonObject };

/** What a history entry records; "create" and "delete" appear only in the change feed. */
export type HistoryOp = Mutation["op"] | "create" | "delete";

export interface WriteOptions {
  ifRevision?: bigint;
  actor: string;
  /** With authentication on: the actor the caller declared, when it differs from the token's. */
  claimedActor?: string;
  source: string;
  /** Makes a retry safe: a write whose id the scope remembers answers its first result again. */
  requestId?: string;
  /** Also answer the whole settings map after the write (REST needs it). */
  withSettings?: boolean;
}

export interface MutationResult {
  changed: boolean;
  revision: bigint;
  /** For unset and path unset: whether something was removed. */
  removed: boolean;
  /** For set and path: the top-level key's value after the write; undefined if absent. */
  value?: JsonValue;
  /**
   * Present when asked for with `withSettings`, and always for controls: the map as stored, each
   * key with its canonical JSON text, in the store's order. Unparsed, so that an answer that is
   * JSON anyway (REST) is built from the texts without parsing and printing every value again.
   */
  settingsEntries?: SettingsEntries;
  /** For controls: the tuple's controls after the write. */
  controls?: ControlFields;
  /** The answer of an earlier write with the same request id; nothing was applied this time. */
  replayed?: boolean;
}

/** One changed key or control; an absent side means the key did not exist. */
export interface Change {
  kind: "setting" | "control";
  key: string;
  before?: JsonValue;
  after?: JsonValue;
}

/** One write that changed something, as history keeps it and watchers see it. */
export interface HistoryEntry {
  revision: bigint;
  scope: Scope;
  op: HistoryOp;
  actor: string;
  claimedActor?: string;
  source: string;
  time: Date;
  /** For op "path": the whole path (first segment is the top-level key) and what was done there. */
  path?: { segments: string[]; op: PathOp };
  changes: Change[];
}

/** What a change-feed entry is about. */
export type ChangeKind = "session_created" | "session_deleted" | "settings" | "controls";

/**
 * A place in the store-wide change feed. One store keeps one ordered feed
 * (shard ""); Redis Cluster keeps one per shard, ordered within it.
 */
export interface FeedPosition {
  shard: string;
  seq: bigint;
}

/** One committed change as the change feed carries it. */
export interface FeedChange {
  position: FeedPosition;
  /** The session the change is about; "" for the default scope's changes. */
  sessionId: string;
  scope: Scope;
  /** The scope's revision after the change (a new session's is 0; a deleted one's is its last). */
  revision: bigint;
  kind: ChangeKind;
  /** Actor, source, time and each changed key or control with its value before and after. */
  entry: HistoryEntry;
}

/** What the feed's listeners hear: each change in feed order, or the loss of delivery (resume from the last position). */
export type FeedEvent = { type: "change"; change: FeedChange } | { type: "unavailable" };

/** What the bus carries: a change, the end of a session, or the loss of the bus itself. */
export type StoreEvent =
  | { type: "change"; sessionId?: string; entry: HistoryEntry }
  | { type: "deleted"; sessionId: string; deletedAt: Date }
  | { type: "unavailable" };
