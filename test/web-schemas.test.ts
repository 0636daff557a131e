// Typed settings in the panel, in real Chromium: a namespace with a JSON
// Schema is edited with a form made from it (an enum is a select, a boolean a
// toggle, numbers are number inputs with their bounds, strings text inputs,
// descriptions are help text); input the form can check is flagged at its
// field and nothing is sent; what only the service finds comes back and shows
// at its field; a namespace without a schema keeps the JSON editor.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, shot } from "./clients-browser.js";
import { restClient, type Rest } from "./support/rest.js";
import { startTestServer, type TestServer } from "./support/server.js";

let browser: Browser;
let server: TestServer;
let rest: Rest;

beforeAll(async () => {
  browser = await launchChromium();
  server = await startTestServer({ backend: "sqlite" });
  rest = restClient(server.url);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const TEAM = {
  type: "object",
  properties: {
    lead: { type: "string", maxLength: 10, description: "Who leads the team" },
    tags: { type: "array", items: { type: "string" } },
    review: {
      type: "object",
      properties: {
        autoApprove: {
          type: "object",
          description: "What an agent may approve without asking",
          required: ["enabled"],
          properties: {
            enabled: { type: "boolean", description: "Approve small changes alone" },
            // multipleOf is not checked by the form: only the service says so.
            threshold: { type: "integer", minimum: 0, maximum: 100, multipleOf: 5, description: "Largest change approved alone, in lines" },
            level: { enum: ["low", "medium", "high"], description: "How much is trusted" },
          },
        },
      },
    },
  },
};

describe("the panel's schema forms", () => {
  it("edits a namespace with a form made from its schema, flags bad input at its field, and shows the service's issues there", async () => {
    expect((await rest("PUT", "/api/schemas/team", { schema: TEAM })).status).toBe(200);
    const sessionId = (await rest("POST", "/api/sessions", { cwd: "/w" })).body.session.sessionId as string;
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "team", value: { lead: "ana", review: { autoApprove: { enabled: false, threshold: 10, level: "low" } } } });
    await rest("POST", `/api/sessions/${sessionId}/settings`, { key: "notes", value: { free: "form" } });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/sessions/${sessionId}`);
    await page.getByText("● Live").waitFor();

    await page.getByRole("button", { name: "Edit team", exact: true }).click();
    const form = page.getByRole("form", { name: "Settings of team" });
    await form.waitFor();
    // Typed controls, with the schema's descriptions as help.
    const threshold = form.getByLabel("threshold");
    expect(await threshold.getAttribute("type")).toBe("number");
    expect([await threshold.getAttribute("min"), await threshold.getAttribute("max"), await threshold.getAttribute("step")]).toEqual(["0", "100", "1"]);
    expect(await threshold.inputValue()).toBe("10");
    const level = form.getByLabel("level");
    expect(await level.evaluate((e) => e.tagName)).toBe("SELECT");
    // Not required: it may be left out ("—").
    expect(await level.locator("option").allInnerTexts()).toEqual(["—", "low", "medium", "high"]);
    const enabled = form.getByRole("switch", { name: "enabled" });
    expect(await enabled.isChecked()).toBe(false);
    expect(await form.getByLabel("lead").inputValue()).toBe("ana");
    await form.getByText("Largest change approved alone, in lines").waitFor();
    expect(await threshold.getAttribute("aria-describedby")).toContain("help");

    // Out of bounds: flagged at the field at once, and nothing is sent.
    await threshold.fill("150");
    await form.getByTestId("problem-team/review/autoApprove/threshold").getByText("must be <= 100").waitFor();
    expect(await threshold.getAttribute("aria-invalid")).toBe("true");
    await form.getByRole("button", { name: "Save team" }).click();
    await form.getByText("Fix the flagged fields first: nothing was sent.").waitFor();
    expect((await rest("GET", `/api/sessions/${sessionId}/settings?key=team`)).body.revision).toBe(2);
    await shot(page, "schema-form-flagged");

    // What only the service checks comes back, at its field.
    await threshold.fill("42");
    await form.getByRole("button", { name: "Save team" }).click();
    await form.getByTestId("problem-team/review/autoApprove/threshold").getByText("must be multiple of 5").waitFor();
    expect((await rest("GET", `/api/sessions/${sessionId}/settings?key=team`)).body.revision).toBe(2);
    await shot(page, "schema-form-service-issue");

    // An issue inside a field the form shows as JSON (an array item) shows at that field, saying where.
    await threshold.fill("40");
    await form.getByLabel("tags (JSON)").fill('["ci", 7]');
    await form.getByRole("button", { name: "Save team" }).click();
    await form.getByTestId("problem-team/tags").getByText("1: must be string").waitFor();
    await form.getByLabel("tags (JSON)").fill('["ci"]');

    await level.selectOption("high");
    await enabled.check();
    await form.getByRole("button", { name: "Save team" }).click();
    await expect.poll(async () => (await rest("GET", `/api/sessions/${sessionId}/settings?key=team`)).body.value)
      .toEqual({ lead: "ana", tags: ["ci"], review: { autoApprove: { enabled: true, threshold: 40, level: "high" } } });
    await form.waitFor({ state: "detached" });

    // A namespace without a schema keeps the JSON editor.
    await page.getByRole("button", { name: "Edit notes", exact: true }).click();
    await page.getByLabel(/New value of/).waitFor();
    expect(await page.getByRole("form", { name: "Settings of notes" }).count()).toBe(0);
    await page.close();
  }, 60_000);
});
