// The four controls of one scope, applied together.
import { useEffect, useState } from "react";
import { APPROVAL_POLICIES, FILESYSTEM_SANDBOXES, NETWORK_ACCESS } from "../../src/domain/types.js";
import type { Scope, Tuple } from "./api.js";

type Controls = Pick<Tuple, "model" | "approvalPolicy" | "networkAccess" | "filesystemSandbox">;

export function ControlsPanel(props: { tuple: Tuple; scope: Scope; editable: boolean; onApply: (c: Controls) => Promise<void> }) {
  const { tuple } = props;
  const [inherit, setInherit] = useState(tuple.model === null);
  const [model, setModel] = useState(tuple.model ?? "");
  const [approvalPolicy, setApproval] = useState(tuple.approvalPolicy);
  const [networkAccess, setNetwork] = useState(tuple.networkAccess);
  const [filesystemSandbox, setSandbox] = useState(tuple.filesystemSandbox);
  const [busy, setBusy] = useState(false);

  // Follow changes made elsewhere.
  useEffect(() => {
    setInherit(tuple.model === null);
    setModel(tuple.model ?? "");
    setApproval(tuple.approvalPolicy);
    setNetwork(tuple.networkAccess);
    setSandbox(tuple.filesystemSandbox);
  }, [tuple.model, tuple.approvalPolicy, tuple.networkAccess, tuple.filesystemSandbox]);

  const modelInvalid = !inherit && model.trim() === "";
  return (
    <section className="panel" aria-labelledby="controls-title">
      <h2 id="controls-title">Controls</h2>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (modelInvalid) return;
          setBusy(true);
          await props.onApply({ model: inherit ? null : model.trim(), approvalPolicy, networkAccess, filesystemSandbox });
          setBusy(false);
        }}
      >
        <fieldset disabled={!props.editable || busy}>
          <div className="field">
            <label htmlFor="model">Model</label>
            <input id="model" value={inherit ? "" : model} placeholder={inherit ? "runtime default" : "model name"} disabled={inherit}
              onChange={(e) => setModel(e.target.value)} aria-invalid={modelInvalid} aria-describedby="model-help" />
            <label className="inline"><input type="checkbox" checked={inherit} onChange={(e) => setInherit(e.target.checked)} /> Inherit the runtime's default model</label>
            {modelInvalid && <p id="model-help" className="invalid">Enter a model name, or inherit the default.</p>}
          </div>
          <div className="field">
            <label htmlFor="approvalPolicy">Approval policy</label>
            <select id="approvalPolicy" value={approvalPolicy} onChange={(e) => setApproval(e.target.value as Controls["approvalPolicy"])}>
              {APPROVAL_POLICIES.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor="networkAccess">Network access</label>
            <select id="networkAccess" value={networkAccess} onChange={(e) => setNetwork(e.target.value as Controls["networkAccess"])}>
              {NETWORK_ACCESS.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor="filesystemSandbox">Filesystem sandbox</label>
            <select id="filesystemSandbox" value={filesystemSandbox} onChange={(e) => setSandbox(e.target.value as Controls["filesystemSandbox"])}>
              {FILESYSTEM_SANDBOXES.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          </div>
          <button type="submit">Apply controls</button>
        </fieldset>
      </form>
    </section>
  );
}
