// The settings map as a tree. Every edit sends only that change (an entry,
// a nested path or an unset) with the revision the edit started from, so a
// concurrent change is shown as a conflict instead of being overwritten. A
// namespace (top-level key) with a JSON Schema is edited with a form made
// from it (./SchemaForm.tsx) instead of the JSON editor.
import { useState } from "react";
import { describeError, reasonOf, SettingsError, type JsonObject, type JsonValue, type Scope, type sdk } from "./api.js";
import { SchemaForm } from "./SchemaForm.js";
import type { FieldSchema } from "./schema-check.js";

type SessionHandle = ReturnType<typeof sdk.session>;

interface Edit {
  path: string[];
  text: string;
  startRevision: bigint;
  startValue: JsonValue | undefined;
  problem?: string;
  conflict?: { now: JsonValue | undefined; revision: bigint };
}

/** A namespace being edited with its schema's form. */
interface FormEdit {
  key: string;
  startRevision: bigint;
  busy: boolean;
  /** The service's issues, by pointer within the namespace's value. */
  issues: Map<string, string>;
  problem?: string;
  /** Changed meanwhile: saving again overwrites the newer value. */
  stale?: boolean;
}

const isObject = (v: JsonValue | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** A typed path: segments as a JSON array (any key), or a dotted string (keys without dots). */
function parsePath(text: string): string[] | undefined {
  const trimmed = text.trim();
  let path: unknown;
  try {
    path = trimmed.startsWith("[") ? JSON.parse(trimmed) : trimmed.split(".");
  } catch {
    return undefined;
  }
  const ok = Array.isArray(path) && path.length > 0 && path.every((s) => typeof s === "string" && s.trim() !== "");
  return ok ? (path as string[]) : undefined;
}

function valueAt(settings: JsonObject, path: string[]): JsonValue | undefined {
  let v: JsonValue | undefined = settings;
  for (const segment of path) {
    if (!isObject(v) || !Object.hasOwn(v, segment)) return undefined;
    v = v[segment];
  }
  return v;
}

export function SettingsPanel(props: {
  settings: JsonObject;
  revision: bigint;
  scope: Scope;
  editable: boolean;
  session: SessionHandle;
  /** The JSON Schema of each namespace that has one. */
  schemas: Record<string, FieldSchema>;
  onError: (err: unknown) => void;
}) {
  const { settings, revision, scope, editable, session, schemas } = props;
  const [edit, setEdit] = useState<Edit>();
  const [form, setForm] = useState<FormEdit>();
  const [newPath, setNewPath] = useState("");
  const [newValue, setNewValue] = useState("");
  const [addProblem, setAddProblem] = useState<string>();

  const write = async (path: string[], value: JsonValue | undefined, ifRevision: bigint) => {
    const options = { scope, ifRevision, source: "ui" };
    if (path.length === 1) {
      return value === undefined ? session.settings.unset(path[0]!, options) : session.settings.set(path[0]!, value, options);
    }
    // Segments, never a joined string: a key with a dot lands exactly where it was clicked.
    const ns = session.settings.namespace(path, { scope });
    return value === undefined ? ns.unset(options) : ns.set(value, options);
  };

  const save = async (e: Edit, ifRevision: bigint) => {
    let value: JsonValue;
    try {
      value = JSON.parse(e.text) as JsonValue;
    } catch (err) {
      setEdit({ ...e, problem: `Not valid JSON: ${(err as Error).message}` });
      return;
    }
    try {
      await write(e.path, value, ifRevision);
      setEdit(undefined);
    } catch (err) {
      if (reasonOf(err) === "REVISION_MISMATCH") {
        setEdit({ ...e, problem: undefined, conflict: { now: valueAt(settings, e.path), revision } });
      } else if (reasonOf(err) === "INVALID_REQUEST" || reasonOf(err) === "PAYLOAD_TOO_LARGE") {
        setEdit({ ...e, problem: describeError(err) });
      } else {
        props.onError(err);
      }
    }
  };

  const remove = async (path: string[]) => {
    try {
      await write(path, undefined, revision);
    } catch (err) {
      props.onError(err);
    }
  };

  const add = async () => {
    const path = parsePath(newPath);
    if (!path) {
      setAddProblem('Give a key, a dot path such as team.review.owner, or segments as JSON: ["team", "v1.2"].');
      return;
    }
    let value: JsonValue;
    try {
      value = JSON.parse(newValue) as JsonValue;
    } catch (err) {
      setAddProblem(`Not valid JSON: ${(err as Error).message}`);
      return;
    }
    try {
      await write(path, value, revision);
      setNewPath("");
      setNewValue("");
      setAddProblem(undefined);
    } catch (err) {
      if (reasonOf(err) === "INVALID_REQUEST" || reasonOf(err) === "REVISION_MISMATCH") setAddProblem(describeError(err));
      else props.onError(err);
    }
  };

  const saveForm = async (f: FormEdit, value: JsonValue | undefined, ifRevision: bigint) => {
    setForm({ ...f, busy: true });
    try {
      await write([f.key], value, ifRevision);
      setForm(undefined);
    } catch (err) {
      const next: FormEdit = { ...f, busy: false, issues: new Map(), problem: undefined, stale: false };
      const prefix = `/${f.key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (err instanceof SettingsError && err.reason === "INVALID_REQUEST") {
        for (const i of err.issues) {
          if (i.pointer !== undefined && (i.pointer === prefix || i.pointer.startsWith(`${prefix}/`))) next.issues.set(i.pointer.slice(prefix.length), i.message);
          else next.problem = describeError(err);
        }
      } else if (reasonOf(err) === "REVISION_MISMATCH") {
        next.problem = `${f.key} was changed by someone else while you were editing (now revision ${revision}). Nothing was overwritten.`;
        next.stale = true;
      } else if (reasonOf(err) === "PAYLOAD_TOO_LARGE") {
        next.problem = describeError(err);
      } else {
        setForm(next);
        props.onError(err);
        return;
      }
      setForm(next);
    }
  };

  const startEdit = (path: string[]) => {
    const value = valueAt(settings, path);
    setEdit({ path, text: JSON.stringify(value, null, 2), startRevision: revision, startValue: value });
  };

  const renderNode = (key: string, value: JsonValue | undefined, path: string[]) => {
    const dotted = path.join(".");
    // What people read and what a screen reader says: unambiguous even when keys contain dots.
    const label = path.join(" › ");
    const isEditing = edit && edit.path.join("\u0000") === path.join("\u0000");
    // A namespace with a schema is edited as a whole, with its form.
    const typed = Object.hasOwn(schemas, path[0]!);
    const formOpen = typed && path.length === 1 && form?.key === key;
    return (
      <li key={key}>
        <div className="node">
          <code className="key">{key}</code>
          {typed && path.length === 1 && <span className="badge" title="Writes are checked against this key's JSON Schema">schema</span>}
          {!isObject(value) && value !== undefined && <code className="value" data-testid={`value-${dotted}`}>{JSON.stringify(value)}</code>}
          {value === undefined && <span className="muted">not set</span>}
          {editable && (!typed || path.length === 1) && (
            <span className="actions">
              <button type="button" aria-label={`Edit ${label}`} onClick={() => (typed ? setForm({ key, startRevision: revision, busy: false, issues: new Map() }) : startEdit(path))}>Edit</button>
              {value !== undefined && <button type="button" className="danger" aria-label={`Delete ${label}`} onClick={() => void remove(path)}>Delete</button>}
            </span>
          )}
        </div>
        {formOpen && form && (
          <>
            <SchemaForm name={key} schema={schemas[key]!} value={value} serverIssues={form.issues} busy={form.busy}
              onSave={(v) => void saveForm(form, v, form.stale ? revision : form.startRevision)} onCancel={() => setForm(undefined)} />
            {form.problem && <p className="invalid" role="alert">{form.problem}{form.stale && " Save again to overwrite it with yours."}</p>}
          </>
        )}
        {isEditing && edit && (
          <form className="editor" onSubmit={(ev) => { ev.preventDefault(); void save(edit, edit.startRevision); }}>
            <label htmlFor="value-editor">New value of <code>{label}</code> (JSON)</label>
            <textarea id="value-editor" rows={4} value={edit.text} aria-invalid={Boolean(edit.problem)}
              onChange={(ev) => setEdit({ ...edit, text: ev.target.value, problem: undefined })} />
            {edit.problem && <p className="invalid" role="alert">{edit.problem}</p>}
            {edit.conflict ? (
              <div className="conflict" role="alert">
                <p><strong>Changed while you were editing.</strong> <code>{label}</code> was {JSON.stringify(edit.startValue)} at revision {edit.startRevision.toString()}, and is now <strong data-testid="conflict-now">{JSON.stringify(edit.conflict.now)}</strong> (revision {edit.conflict.revision.toString()}). Nothing was overwritten.</p>
                <button type="button" onClick={() => void save({ ...edit, conflict: undefined }, revision)}>Save mine anyway</button>
                <button type="button" onClick={() => setEdit(undefined)}>Discard my edit</button>
              </div>
            ) : (
              <div className="row">
                <button type="submit">Save</button>
                <button type="button" onClick={() => setEdit(undefined)}>Cancel</button>
              </div>
            )}
          </form>
        )}
        {isObject(value) && Object.keys(value).length > 0 && (
          <ul>{Object.keys(value).sort().map((k) => renderNode(k, value[k]!, [...path, k]))}</ul>
        )}
      </li>
    );
  };

  // Namespaces with a schema show even before they are set, so that their form can be opened.
  const keys = [...new Set([...Object.keys(settings), ...(editable ? Object.keys(schemas) : [])])].sort();
  return (
    <section className="panel" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings <span className="muted">({scope === "default" ? "new sessions default" : "this session"})</span></h2>
      {keys.length === 0 ? <p className="muted">No settings.</p> : <ul className="tree">{keys.map((k) => renderNode(k, Object.hasOwn(settings, k) ? settings[k] : undefined, [k]))}</ul>}
      {editable && (
        <form className="add" onSubmit={(e) => { e.preventDefault(); void add(); }}>
          <h3>Add or replace a value</h3>
          <label htmlFor="new-path">Key or dot path</label>
          <input id="new-path" value={newPath} onChange={(e) => setNewPath(e.target.value)} placeholder='team.review.owner or ["team", "v1.2"]' />
          <label htmlFor="new-value">Value (JSON)</label>
          <textarea id="new-value" rows={3} value={newValue} onChange={(e) => setNewValue(e.target.value)} placeholder='"ana" or {"enabled": true}' />
          {addProblem && <p className="invalid" role="alert">{addProblem}</p>}
          <button type="submit">Add</button>
        </form>
      )}
    </section>
  );
}
