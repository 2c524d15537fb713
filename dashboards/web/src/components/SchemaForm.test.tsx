import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { SchemaForm } from "./SchemaForm";
import { SECRET_MASK, type JSONSchema } from "./schema";

const schema: JSONSchema = {
  type: "object",
  required: ["name", "config"],
  properties: {
    name: { type: "string", title: "Name", minLength: 1, description: "Shown on dashboards." },
    retries: { type: "integer", minimum: 1, maximum: 10, default: 3, description: "How often to retry." },
    ratio: { type: "number", exclusiveMaximum: 1 },
    enabled: { type: "boolean", default: true },
    region: { type: "string", enum: ["eu", "us"], default: "eu" },
    tags: { type: "array", items: { type: "string" } },
    config: {
      type: "object",
      required: ["workspace_url"],
      properties: {
        workspace_url: { type: "string", format: "uri", description: "The workspace address." },
        token: { type: "string", "x-secret": true, description: "A personal access token." },
      },
    },
  },
};

function field(pointer: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-pointer="${pointer}"]`);
  if (!el) throw new Error(`no field ${pointer}`);
  return el;
}

describe("SchemaForm", () => {
  it("renders an input per type, with defaults and descriptions as help", () => {
    render(<SchemaForm schema={schema} onSubmit={() => {}} />);
    expect(screen.getByLabelText(/^Name/)).toHaveProperty("type", "text");
    const retries = screen.getByLabelText(/^Retries/) as HTMLInputElement;
    expect(retries.type).toBe("number");
    expect(retries.value).toBe("3");
    expect(retries.min).toBe("1");
    expect(screen.getByRole("checkbox", { name: "Enabled" })).toBeChecked();
    const region = screen.getByLabelText(/^Region/) as HTMLSelectElement;
    expect(region.tagName).toBe("SELECT");
    expect(within(region).getAllByRole("option").map((o) => o.textContent)).toEqual(["— none —", "eu", "us"]);
    expect(region.selectedOptions[0]!.textContent).toBe("eu");
    expect(screen.getByRole("textbox", { name: "Tags 1" })).toBeInTheDocument();
    expect(screen.getByRole("group", { name: "Config" })).toBeInTheDocument();
    expect(screen.getByLabelText(/^Token/)).toHaveProperty("type", "password");
    // Descriptions are the inputs' accessible descriptions.
    expect(screen.getByLabelText(/^Name/)).toHaveAccessibleDescription("Shown on dashboards.");
    expect(screen.getByLabelText(/^Workspace url/)).toHaveAccessibleDescription("The workspace address.");
    // Required fields say so.
    expect(screen.getByText("Name", { selector: "label" })).toHaveTextContent("Name (required)");
    expect(screen.getByLabelText(/^Workspace url/)).toHaveAttribute("aria-required", "true");
  });

  it("validates required fields and ranges before sending", async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn();
    render(<SchemaForm schema={schema} onSubmit={onSubmit} />);
    const retries = screen.getByLabelText(/^Retries/);
    await user.clear(retries);
    await user.type(retries, "0");
    await user.type(screen.getByLabelText(/^Ratio/), "1");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(within(field("/name")).getByText("Required")).toBeInTheDocument();
    expect(within(field("/config/workspace_url")).getByText("Required")).toBeInTheDocument();
    expect(within(field("/retries")).getByText("Must be at least 1")).toBeInTheDocument();
    expect(within(field("/ratio")).getByText("Must be less than 1")).toBeInTheDocument();
    expect(screen.getByLabelText(/^Name/)).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByRole("alert")).toHaveTextContent("4 fields need attention.");

    await user.type(screen.getByLabelText(/^Name/), "prod");
    await user.clear(retries);
    await user.type(retries, "2.5");
    await user.clear(screen.getByLabelText(/^Ratio/));
    await user.type(screen.getByLabelText(/^Workspace url/), "not a url");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(within(field("/retries")).getByText("Must be a whole number")).toBeInTheDocument();
    expect(within(field("/config/workspace_url")).getByText(/Must be a URL/)).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();

    await user.clear(retries);
    await user.type(retries, "5");
    await user.clear(screen.getByLabelText(/^Workspace url/));
    await user.type(screen.getByLabelText(/^Workspace url/), "https://adb-1.azuredatabricks.net");
    await user.type(screen.getByRole("textbox", { name: "Tags 1" }), "etl");
    await user.click(screen.getByRole("button", { name: "Add tags" }));
    await user.type(screen.getByRole("textbox", { name: "Tags 2" }), "daily");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit).toHaveBeenCalledWith({
      name: "prod",
      retries: 5,
      enabled: true,
      region: "eu",
      tags: ["etl", "daily"],
      config: { workspace_url: "https://adb-1.azuredatabricks.net" },
    });
  });

  it("shows server errors next to the field their JSON pointer names", async () => {
    const user = userEvent.setup();
    const { rerender } = render(<SchemaForm schema={schema} initialValue={{ name: "x", config: { workspace_url: "https://a.example" } }} onSubmit={() => {}} />);
    const errors = [
      { field: "/config/workspace_url", message: "the workspace answered 404" },
      { field: "/tags/1", message: "duplicate tag" },
      { field: "/unknown", message: "not a setting" },
    ];
    rerender(<SchemaForm schema={schema} initialValue={{ name: "x", config: { workspace_url: "https://a.example" } }} onSubmit={() => {}} serverErrors={errors} formError="The configuration is invalid." />);
    expect(within(field("/config/workspace_url")).getByText("the workspace answered 404")).toBeInTheDocument();
    expect(screen.getByLabelText(/^Workspace url/)).toHaveAccessibleDescription(/the workspace answered 404/);
    // An item of a list goes to the list.
    expect(within(field("/tags")).getByText("1: duplicate tag")).toBeInTheDocument();
    // A pointer with no input is listed on top with the form's message.
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("The configuration is invalid.");
    expect(alert).toHaveTextContent("/unknown not a setting");
    expect(within(field("/name")).queryByText(/./, { selector: ".field-error" })).toBeNull();
    // Editing the field clears its server error.
    await user.type(screen.getByLabelText(/^Workspace url/), "/x");
    expect(within(field("/config/workspace_url")).queryByText("the workspace answered 404")).toBeNull();
  });

  it("keeps stored secrets masked and sends them back unchanged unless typed over", async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn();
    const initial = { name: "prod", config: { workspace_url: "https://a.example", token: SECRET_MASK } };
    const { unmount } = render(<SchemaForm schema={schema} initialValue={initial} onSubmit={onSubmit} />);
    const token = screen.getByLabelText(/^Token/) as HTMLInputElement;
    expect(token.type).toBe("password");
    expect(token.value).toBe(SECRET_MASK);
    expect(token).toHaveAttribute("autocomplete", "new-password");
    expect(screen.getByText("Stored; type to replace it")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit).toHaveBeenLastCalledWith(expect.objectContaining({ config: { workspace_url: "https://a.example", token: SECRET_MASK } }));

    await user.clear(token);
    expect(screen.getByText("Will be removed")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit).toHaveBeenLastCalledWith(expect.objectContaining({ config: { workspace_url: "https://a.example", token: null } }));

    await user.type(token, "dapi-new-secret");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit).toHaveBeenLastCalledWith(expect.objectContaining({ config: { workspace_url: "https://a.example", token: "dapi-new-secret" } }));
    // The secret is never shown as text.
    expect(document.body.textContent).not.toContain("dapi-new-secret");
    await user.click(screen.getByRole("button", { name: "Keep stored value" }));
    expect(token.value).toBe(SECRET_MASK);
    unmount();

    // A new form: an unset optional secret is simply left out.
    onSubmit.mockClear();
    render(<SchemaForm schema={schema} initialValue={{ name: "n", config: { workspace_url: "https://b.example" } }} onSubmit={onSubmit} />);
    expect(screen.getByLabelText(/^Token/)).toHaveAttribute("placeholder", "Not set");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit.mock.calls[0]![0].config).toEqual({ workspace_url: "https://b.example" });
  });

  it("edits free-form objects as JSON and reports bad JSON", async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn();
    render(<SchemaForm schema={{ type: "object", properties: { config: { type: "object", title: "Settings (JSON)" } } }} onSubmit={onSubmit} />);
    const box = screen.getByLabelText("Settings (JSON)");
    await user.click(box);
    await user.paste("{oops");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(within(field("/config")).getByText(/Must be valid JSON/)).toBeInTheDocument();
    await user.clear(box);
    await user.paste('{"greeting": "hi", "runs": 3}');
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit).toHaveBeenCalledWith({ config: { greeting: "hi", runs: 3 } });
  });

  it("renders enums given as oneOf consts with titles and array enums as checkboxes", async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn();
    render(
      <SchemaForm
        schema={{
          type: "object",
          required: ["bucket"],
          properties: {
            bucket: { type: "string", oneOf: [{ const: "1h", title: "Hourly" }, { const: "1d", title: "Daily" }] },
            states: { type: "array", items: { type: "string", enum: ["failed", "succeeded"] }, minItems: 1 },
          },
        }}
        onSubmit={onSubmit}
      />,
    );
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(within(field("/bucket")).getByText("Choose a value")).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText(/^Bucket/), "Daily");
    await user.click(screen.getByRole("checkbox", { name: "failed" }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSubmit).toHaveBeenCalledWith({ bucket: "1d", states: ["failed"] });
  });
});
