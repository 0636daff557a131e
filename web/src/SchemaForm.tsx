// The editor of a namespace (a top-level key) that has a JSON Schema: a form
// made from the schema. An enum is a select, a boolean a toggle, a number or
// integer a number input with its bounds, a string a text input, an object
// a group of fields; anything else (arrays, mixed types) a JSON field. Each
// field's description is its help text. What the form can check is flagged at
// the field as you type, and nothing is sent while anything is flagged; what
// the service finds (every keyword) comes back as issues at their JSON
// Pointers and shows at the same fields.
import { useState } from "react";
import type { JsonObject, JsonValue } from "./api.js";
import { child, isObject, kindOf, placeIssues, problemsOf, type FieldSchema } from "./schema-check.js";

export interface SchemaFormProps {
  /** The top-level key. */
  name: string;
  schema: FieldSchema;
  value: JsonValue | undefined;
  /** Problems the service answered, by pointer within the value ("" is the value itself). */
  serverIssues: Map<string, string>;
  busy: boolean;
  onSave(value: JsonValue | undefined): void;
  onCancel(): void;
}

/** Sets (or with undefined removes) the value at `path` inside `root`, copying what it changes. */
function setAt(root: JsonValue | undefined, path: string[], v: JsonValue | undefined): JsonValue | undefined {
  if (path.length === 0) return v;
  const [head, ...rest] = path as [string, ...string[]];
  const base: JsonObject = isObject(root) ? { ...root } : {};
  const next = setAt(base[head], rest, v);
  if (next === undefined) delete base[head];
  else base[head] = next;
  return base;
}

const idOf = (name: string, pointer: string) => `sf-${encodeURIComponent(name)}-${encodeURIComponent(pointer)}`;

export function SchemaForm(props: SchemaFormProps) {
  const { name, schema } = props;
  const [draft, setDraft] = useState<JsonValue | undefined>(props.value);
  /** What is typed in number and JSON fields, so a half-typed value stays on screen. */
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [unparsed, setUnparsed] = useState<Record<string, string>>({});
  const [tried, setTried] = useState(false);
  const [edited, setEdited] = useState(new Set<string>());

  const problems = problemsOf(schema, draft);
  const serverIssues = placeIssues(schema, props.serverIssues);
  for (const [pointer, message] of Object.entries(unparsed)) problems.set(pointer, message);
  const update = (pointer: string, path: string[], v: JsonValue | undefined) => {
    setDraft((d) => setAt(d, path, v));
    setEdited((e) => new Set(e).add(pointer));
  };
  // A field says what the form found once it was touched (or a save was tried), and what the service found until it is touched.
  const problemAt = (pointer: string) =>
    (tried || edited.has(pointer) ? problems.get(pointer) : undefined) ?? (edited.has(pointer) ? undefined : serverIssues.get(pointer));

  const help = (pointer: string, s: FieldSchema) => {
    const problem = problemAt(pointer);
    return (
      <>
        {s.description && <span className="help" id={`${idOf(name, pointer)}-help`}>{s.description}</span>}
        {problem && <span className="invalid" role="alert" id={`${idOf(name, pointer)}-problem`} data-testid={`problem-${name}${pointer}`}>{problem}</span>}
      </>
    );
  };
  const describedBy = (pointer: string, s: FieldSchema) =>
    [s.description && `${idOf(name, pointer)}-help`, problemAt(pointer) && `${idOf(name, pointer)}-problem`].filter(Boolean).join(" ") || undefined;

  const field = (s: FieldSchema, label: string, path: string[], required: boolean) => {
    const pointer = path.reduce(child, "");
    const value = path.reduce<JsonValue | undefined>((v, p) => (isObject(v) && Object.hasOwn(v, p) ? v[p] : undefined), draft);
    const id = idOf(name, pointer);
    const common = { id, "aria-invalid": Boolean(problemAt(pointer)), "aria-describedby": describedBy(pointer, s) };
    const title = s.title ?? label;
    switch (kindOf(s)) {
      case "object":
        return (
          <fieldset key={pointer} className="schema-group" aria-describedby={common["aria-describedby"]}>
            <legend>{title}</legend>
            {help(pointer, s)}
            {Object.entries(s.properties ?? {}).map(([k, sub]) => field(sub, k, [...path, k], (s.required ?? []).includes(k)))}
          </fieldset>
        );
      case "boolean":
        return (
          <div key={pointer} className="field schema-field">
            <label className="inline"><input type="checkbox" role="switch" {...common} checked={value === true} onChange={(e) => update(pointer, path, e.target.checked)} /> {title}</label>
            {help(pointer, s)}
          </div>
        );
      case "enum":
        return (
          <div key={pointer} className="field schema-field">
            <label htmlFor={id}>{title}</label>
            <select {...common} value={value === undefined ? "" : JSON.stringify(value)}
              onChange={(e) => update(pointer, path, e.target.value === "" ? undefined : (JSON.parse(e.target.value) as JsonValue))}>
              {(!required || value === undefined) && <option value="">—</option>}
              {(s.enum ?? []).map((o) => <option key={JSON.stringify(o)} value={JSON.stringify(o)}>{typeof o === "string" ? o : JSON.stringify(o)}</option>)}
            </select>
            {help(pointer, s)}
          </div>
        );
      case "number":
      case "integer":
        return (
          <div key={pointer} className="field schema-field">
            <label htmlFor={id}>{title}</label>
            <input type="number" {...common} min={s.minimum ?? s.exclusiveMinimum} max={s.maximum ?? s.exclusiveMaximum} step={kindOf(s) === "integer" ? 1 : "any"}
              value={typed[pointer] ?? (typeof value === "number" ? String(value) : "")}
              onChange={(e) => {
                const text = e.target.value;
                setTyped((t) => ({ ...t, [pointer]: text }));
                update(pointer, path, text.trim() === "" ? undefined : Number(text));
              }} />
            {help(pointer, s)}
          </div>
        );
      case "string":
        return (
          <div key={pointer} className="field schema-field">
            <label htmlFor={id}>{title}</label>
            <input type="text" {...common} maxLength={s.maxLength} value={typeof value === "string" ? value : ""}
              onChange={(e) => update(pointer, path, e.target.value === "" && !required ? undefined : e.target.value)} />
            {help(pointer, s)}
          </div>
        );
      case "json":
        return (
          <div key={pointer} className="field schema-field">
            <label htmlFor={id}>{title} (JSON)</label>
            <textarea rows={2} {...common} value={typed[pointer] ?? (value === undefined ? "" : JSON.stringify(value))}
              onChange={(e) => {
                const text = e.target.value;
                setTyped((t) => ({ ...t, [pointer]: text }));
                let parsed: JsonValue | undefined;
                let problem: string | undefined;
                try {
                  parsed = text.trim() === "" ? undefined : (JSON.parse(text) as JsonValue);
                } catch {
                  problem = "is not valid JSON";
                }
                setUnparsed(({ [pointer]: _, ...rest }) => (problem ? { ...rest, [pointer]: problem } : rest));
                if (!problem) update(pointer, path, parsed);
                else setEdited((ed) => new Set(ed).add(pointer));
              }} />
            {help(pointer, s)}
          </div>
        );
    }
  };

  return (
    <form className="schema-form editor" aria-label={`Settings of ${name}`} noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        setEdited(new Set());
        if (problems.size === 0) props.onSave(draft);
      }}>
      {field(schema, name, [], true)}
      {tried && problems.size > 0 && <p className="invalid" role="alert">Fix the flagged fields first: nothing was sent.</p>}
      <div className="row">
        <button type="submit" disabled={props.busy}>Save {name}</button>
        <button type="button" onClick={props.onCancel}>Cancel</button>
      </div>
    </form>
  );
}
