// A form generated from the scenario's JSON schema (pydantic's model_json_schema).
// Every input sits in a .field whose data-path is the field's path exactly as the server
// names it in a problem ("sites[0].facility_power_mw"), so problems land beside their field.

export function formatPath(parts) {
  let out = "";
  for (const p of parts) out += typeof p === "number" ? `[${p}]` : (out ? `.${p}` : String(p));
  return out;
}

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
};

// Catalog ids offered as suggestions for fields of these names.
const CHOICES = { region: "regions", system: "systems", default: "systems", model: "models", local_model: "models",
  offload_model: "models", cost_profile: "cost_profiles", cooling: "cooling" };
const OPEN = new Set(["sites", "workloads", "finance"]);

export class SchemaForm {
  constructor(root, schema, choices, onChange) {
    this.root = root; this.schema = schema; this.choices = choices || {}; this.onChange = onChange; this.data = {};
  }

  resolve(s) {
    while (s && s.$ref) s = this.schema.$defs[s.$ref.split("/").pop()];
    return s || {};
  }

  // The schema of a value: {kind, nullable, ...} with anyOf/[X, null] unwrapped.
  shape(s) {
    s = this.resolve(s);
    if (s.anyOf) {
      const opts = s.anyOf.map((x) => this.resolve(x)).filter((x) => x.type !== "null");
      const nullable = opts.length < s.anyOf.length;
      if (opts.length === 1) return { ...this.shape(opts[0]), nullable, description: s.description, default: s.default, title: s.title };
      return { kind: "text", nullable, description: s.description, default: s.default, title: s.title };
    }
    if (s.enum) return { kind: "enum", values: s.enum, s };
    if (s.type === "object" && s.properties) return { kind: "object", s };
    if (s.type === "object") return { kind: "map", s };
    if (s.type === "array") {
      const items = this.resolve(s.items || {});
      if (items.type === "object" && items.properties) return { kind: "list", items, s };
      return { kind: "array", items, s };
    }
    if (s.type === "boolean") return { kind: "bool", s };
    if (s.type === "integer" || s.type === "number") return { kind: s.type, s };
    return { kind: "string", s };
  }

  render(data) {
    this.data = data && typeof data === "object" ? data : {};
    this.root.replaceChildren();
    for (const [name, prop] of Object.entries(this.schema.properties)) {
      const sh = this.shape(prop);
      const path = [name];
      if (sh.kind === "object" || sh.kind === "list") {
        const sec = el("details", { class: "section", "data-path": name, open: OPEN.has(name) },
          el("summary", { text: label(name) + (prop.description ? ` — ${prop.description}` : "") }));
        sec.append(el("div", { class: "problem" }));
        sec.append(this.node(sh, path, prop));
        this.root.append(sec);
      } else {
        this.root.append(this.node(sh, path, prop));
      }
    }
  }

  get(path) { return path.reduce((o, k) => (o == null ? undefined : o[k]), this.data); }

  set(path, value) {
    let o = this.data;
    for (let i = 0; i < path.length - 1; i++) {
      if (o[path[i]] == null || typeof o[path[i]] !== "object") o[path[i]] = typeof path[i + 1] === "number" ? [] : {};
      o = o[path[i]];
    }
    const last = path[path.length - 1];
    if (value === undefined) { if (Array.isArray(o)) o[last] = null; else delete o[last]; } else o[last] = value;
    this.onChange(this.data);
  }

  node(sh, path, prop) {
    if (sh.kind === "object") return this.object(sh.s, path);
    if (sh.kind === "list") return this.list(sh, path);
    return this.field(sh, path, prop);
  }

  object(s, path) {
    const box = el("div", { class: "object" });
    for (const [name, prop] of Object.entries(s.properties)) {
      const sh = this.shape(prop);
      const p = [...path, name];
      if (sh.kind === "object" || sh.kind === "list") {
        const fs = el("fieldset", { "data-path": formatPath(p) }, el("legend", { text: label(name), title: prop.description || "" }),
          el("div", { class: "problem" }));
        fs.append(this.node(sh, p, prop));
        box.append(fs);
      } else box.append(this.field(sh, p, prop));
    }
    return box;
  }

  list(sh, path) {
    const box = el("div", { class: "list" });
    const items = this.get(path);
    (Array.isArray(items) ? items : []).forEach((_item, i) => {
      const p = [...path, i];
      const fs = el("fieldset", { "data-path": formatPath(p) }, el("legend", { text: `${label(path[path.length - 1])} ${i + 1}` }),
        el("div", { class: "problem" }));
      fs.append(this.object(sh.items, p));
      fs.append(el("div", { class: "item-actions" }, el("button", { type: "button", class: "danger", text: "remove", onclick: () => {
        this.get(path).splice(i, 1); this.onChange(this.data); this.render(this.data);
      } })));
      box.append(fs);
    });
    box.append(el("button", { type: "button", class: "add", "data-add": formatPath(path), text: `+ add ${label(path[path.length - 1]).replace(/s$/, "")}`, onclick: () => {
      const cur = this.get(path);
      const item = {};
      for (const req of sh.items.required || []) item[req] = null;
      if (Array.isArray(cur)) cur.push(item); else this.set(path, [item]);
      this.onChange(this.data); this.render(this.data);
    } }));
    return box;
  }

  field(sh, path, prop) {
    const name = path[path.length - 1];
    const id = "f-" + formatPath(path).replace(/[^A-Za-z0-9_-]/g, "_");
    const value = this.get(path);
    const desc = prop.description || sh.description || "";
    const unit = (desc.match(/\[([^\]]+)\]\s*\.?$/) || [])[1];
    const lab = el("label", { for: id, title: desc }, label(name), unit ? el("span", { class: "unit", text: ` [${unit}]` }) : null);
    let input;
    const dflt = prop.default !== undefined ? prop.default : sh.default;
    const placeholder = dflt === undefined ? "" : dflt === null ? "(none)" : typeof dflt === "object" ? JSON.stringify(dflt) : String(dflt);
    if (sh.kind === "bool") {
      input = el("input", { type: "checkbox", id, checked: value === undefined ? !!dflt : !!value });
      input.addEventListener("change", () => this.set(path, input.checked));
    } else if (sh.kind === "enum") {
      input = el("select", { id });
      input.append(el("option", { value: "", text: placeholder ? `(default: ${placeholder})` : "" }));
      for (const v of sh.values) input.append(el("option", { value: v, text: v, selected: value === v }));
      input.addEventListener("change", () => this.set(path, input.value === "" ? undefined : input.value));
    } else {
      const shown = value === undefined || value === null ? "" :
        sh.kind === "array" ? value.join(", ") : sh.kind === "map" ? Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(", ") :
        typeof value === "object" ? JSON.stringify(value) : String(value);
      input = el("input", { type: "text", id, value: shown, placeholder, autocomplete: "off", spellcheck: "false" });
      const list = CHOICES[name] && this.choices[CHOICES[name]];
      if (list) input.setAttribute("list", `dl-${CHOICES[name]}`);
      input.addEventListener("input", () => this.set(path, parseInput(input.value, sh)));
    }
    return el("div", { class: "field", "data-path": formatPath(path) }, lab, input,
      desc ? el("div", { class: "help", text: desc }) : null, el("div", { class: "problem" }));
  }

  datalists() {
    const box = el("div", { hidden: true });
    for (const [k, ids] of Object.entries(this.choices)) {
      const dl = el("datalist", { id: `dl-${k}` });
      for (const i of ids) dl.append(el("option", { value: i }));
      box.append(dl);
    }
    return box;
  }

  // Put each problem beside its field (or the nearest enclosing section); returns those placed nowhere.
  showProblems(problems) {
    for (const e of this.root.querySelectorAll(".has-problem")) e.classList.remove("has-problem");
    for (const e of this.root.querySelectorAll(".problem")) e.replaceChildren();
    const unplaced = [];
    for (const p of problems) {
      let target = null;
      let f = p.field || "";
      while (f) {  // the field itself, else its nearest enclosing item or section
        target = this.root.querySelector(`[data-path="${CSS.escape(f)}"]`);
        if (target) break;
        const parent = f.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
        if (parent === f) break;
        f = parent;
      }
      if (!target) { unplaced.push(p); continue; }
      target.classList.add("has-problem");
      const sec = target.closest("details.section");
      if (sec) { sec.open = true; if (sec !== target) sec.classList.add("has-problem"); }
      const box = target.querySelector(":scope > .problem");
      box.append(el("div", { class: "msg" }, el("b", { text: p.message }), p.fix ? el("span", { class: "fix", text: ` — fix: ${p.fix}` }) : null));
    }
    return unplaced;
  }
}

function label(name) { return String(name).replace(/_/g, " "); }

// Text typed in a field → the JSON value sent to the server.  Unparseable numbers are sent as
// typed, so the server names the problem (the form never hides a mistake by dropping it).
function parseInput(text, sh) {
  const t = text.trim();
  if (t === "") return sh.nullable ? null : undefined;
  const num = (x) => (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(x) ? Number(x) : x);
  if (sh.kind === "integer" || sh.kind === "number" || sh.kind === "text") return num(t);
  if (sh.kind === "array") {
    const parts = t.split(",").map((x) => x.trim()).filter((x) => x !== "");
    const it = sh.items && sh.items.type;
    return it === "number" || it === "integer" ? parts.map(num) : parts;
  }
  if (sh.kind === "map") {
    const out = {};
    for (const part of t.split(",")) {
      const [k, ...rest] = part.split(":");
      if (k.trim()) out[k.trim()] = num(rest.join(":").trim());
    }
    return out;
  }
  return t;
}
