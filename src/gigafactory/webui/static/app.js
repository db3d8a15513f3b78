// The web application: a hash router over seven pages (editor, job, run, runs, compare, sweeps, sweep).
import { api, ApiError, followEvents, getKey, setKey, takeKeyFromUrl } from "./api.js";
import { SchemaForm } from "./form.js";

const $ = (sel, root = document) => root.querySelector(sel);
const page = () => $("#page");
const h = (html) => { const t = document.createElement("template"); t.innerHTML = html.trim(); return t.content; };
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
let leave = null; // cleanup of the current page (aborts its streams)

export function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + " B";
  if (a >= 1e6) return (v / 1e6).toFixed(2) + " M";
  if (a >= 1000) return v.toLocaleString("en-US", { maximumFractionDigits: 0 });
  return v.toLocaleString("en-US", { maximumSignificantDigits: 4 });
}

// ------------------------------------------------------------------ editor

const editor = { data: null, yaml: null, mode: "form", schema: null, choices: null, seq: 0, timer: null, last: null };

async function editorPage() {
  page().replaceChildren(h(`
    <h1>Scenario editor</h1>
    <div class="toolbar">
      <button id="load-default" type="button">Load default scenario</button>
      <span class="tabs"><button id="tab-form" type="button">Form</button> <button id="tab-yaml" type="button">YAML</button></span>
      <span id="validity" class="muted">not checked</span>
      <button id="run-plan" class="primary" type="button" disabled>Run plan</button>
    </div>
    <div class="editor">
      <div><form id="form" autocomplete="off"></form><textarea id="yaml" spellcheck="false" hidden></textarea></div>
      <aside><div class="panel"><h3>Problems</h3><ul id="problems"></ul><div id="summary" class="muted"></div></div></aside>
    </div>`));
  if (!editor.schema) {
    [editor.schema, editor.choices] = await Promise.all([api("/api/scenario/schema"), api("/api/catalog/choices")]);
    if (!$("#form")) return; // the user went to another page meanwhile
  }
  const form = new SchemaForm($("#form"), editor.schema, editor.choices, (data) => { editor.data = data; editor.yaml = null; schedule(); });
  editor.form = form;
  $("#form").addEventListener("submit", (e) => e.preventDefault());
  if (!document.getElementById("dl-regions")) document.body.append(form.datalists());
  $("#load-default").onclick = async () => {
    // not "valid" while the default loads: it replaces the form, and the old verdict is stale
    $("#validity").textContent = "loading…";
    $("#validity").className = "muted";
    $("#run-plan").disabled = true;
    const d = await api("/api/scenario/default");
    editor.data = d.scenario; editor.yaml = d.yaml;
    if (!$("#form")) return; // loaded for when the editor is shown again
    show(); schedule(0);
  };
  $("#tab-form").onclick = () => { editor.mode = "form"; show(); };
  $("#tab-yaml").onclick = () => { editor.mode = "yaml"; show(); };
  $("#yaml").addEventListener("input", (e) => { editor.yaml = e.target.value; editor.data = null; schedule(); });
  $("#run-plan").onclick = runPlan;
  leave = () => clearTimeout(editor.timer);
  if (!editor.data && !editor.yaml) await $("#load-default").onclick();
  else { show(); schedule(0); }
}

function show() {
  const yamlMode = editor.mode === "yaml";
  $("#tab-form").classList.toggle("on", !yamlMode);
  $("#tab-yaml").classList.toggle("on", yamlMode);
  $("#form").hidden = yamlMode;
  $("#yaml").hidden = !yamlMode;
  if (yamlMode) {
    if (editor.yaml !== null) $("#yaml").value = editor.yaml;
  } else if (editor.data && typeof editor.data === "object") {
    editor.form.render(editor.data);
  } else {
    $("#form").replaceChildren(h(`<p class="error">The YAML cannot be read as a scenario yet; fix it in the YAML view (see the problems).</p>`));
  }
  if (editor.last) paint(editor.last);
}

function body() { return editor.yaml !== null ? { yaml: editor.yaml } : { scenario: editor.data || {} }; }

// Debounced live validation: the newest answer wins.
function schedule(delay = 300) {
  clearTimeout(editor.timer);
  $("#validity").textContent = "checking…";
  $("#validity").className = "muted";
  editor.timer = setTimeout(validateNow, delay);
}

async function validateNow() {
  if (!$("#validity")) return;
  const seq = ++editor.seq;
  let res;
  try { res = await api("/api/validate", { method: "POST", body: body() }); }
  catch (e) { if (!(e instanceof ApiError) || e.status !== 422) throw e; res = e.body; }
  if (seq !== editor.seq || !$("#validity")) return;
  editor.last = res;
  if (res.input) {
    if (editor.yaml === null) editor.yaml = res.input.yaml;          // the form's scenario as YAML (problem lines refer to it)
    if (editor.data === null && res.input.scenario && typeof res.input.scenario === "object") {
      editor.data = res.input.scenario;
      if (editor.mode === "form") editor.form.render(editor.data);
    }
  }
  paint(res);
}

function paint(res) {
  const problems = res.problems || [];
  const v = $("#validity");
  v.textContent = res.valid ? "✓ valid" : `${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  v.className = res.valid ? "ok" : "bad";
  $("#run-plan").disabled = !res.valid;
  const unplaced = editor.mode === "form" && editor.form && editor.data ? editor.form.showProblems(problems) : problems;
  $("#problems").replaceChildren(...problems.map((p) => {
    const li = document.createElement("li");
    li.className = unplaced.includes(p) ? "unplaced" : "placed";
    li.innerHTML = `${p.line ? `<span class="muted">line ${p.line}</span> ` : ""}<b>${esc(p.field || "scenario")}</b>: ${esc(p.message)}` +
      (p.expected ? `<br><span class="muted">expected: ${esc(p.expected)}</span>` : "") + (p.fix ? `<br>fix: ${esc(p.fix)}` : "");
    return li;
  }));
  $("#summary").textContent = res.valid ? `${res.name}: ${res.total_power_mw} MW over ${res.sites.length} site(s), ${res.workloads.length} workload(s), build method ${res.rollout_method}.` : "";
}

async function runPlan() {
  $("#run-plan").disabled = true;
  try {
    const job = await api("/api/jobs", { method: "POST", body: { kind: "plan", ...body(), options: { samples: 2000 } } });
    location.hash = `#/job/${job.id}`;
  } catch (e) {
    if (e instanceof ApiError && e.status === 422) { editor.last = e.body; paint(e.body); } else throw e;
  }
}

// ------------------------------------------------------------------ job

async function jobPage(id) {
  page().replaceChildren(h(`
    <h1><span id="job-kind">Job</span> <span class="muted">${esc(id)}</span></h1>
    <p>State: <b id="job-state">…</b> <span id="job-stage" class="muted"></span></p>
    <progress id="job-progress" max="1" value="0"></progress>
    <ol id="job-stages"></ol>
    <div class="toolbar"><button id="cancel-job" type="button" class="danger">Cancel</button> <span id="job-after"></span></div>
    <div id="job-error"></div>`));
  const ctl = new AbortController();
  leave = () => ctl.abort();
  $("#cancel-job").onclick = async () => { $("#cancel-job").disabled = true; paintJob(await api(`/api/jobs/${id}/cancel`, { method: "POST" })); };
  paintJob(await api(`/api/jobs/${encodeURIComponent(id)}`));
  try { await followEvents(id, (_type, job) => paintJob(job), ctl.signal); } catch (e) { if (e.name !== "AbortError") throw e; }
}

function paintJob(job) {
  if (!$("#job-state")) return;
  $("#job-kind").textContent = `${job.kind[0].toUpperCase()}${job.kind.slice(1)} job`;
  $("#job-state").textContent = job.state;
  const points = job.points ? `, ${job.points.done} of ${job.points.total} points${job.points.failed ? ` (${job.points.failed} failed)` : ""}` : "";
  $("#job-stage").textContent = job.stage && job.state === "running" ? `— ${job.stage} (${job.completed + 1} of ${job.total}${points})` : "";
  $("#job-progress").value = job.progress;
  $("#job-stages").replaceChildren(...job.stages.map((s, i) => {
    const li = document.createElement("li");
    const st = job.state === "done" || i < job.completed ? "done" : i === job.completed && job.state === "running" && job.stage ? "running" : "pending";
    li.className = st; li.dataset.stage = s; li.textContent = `${s}${st === "done" ? " ✓" : st === "running" ? " …" : ""}`;
    return li;
  }));
  const ended = ["done", "failed", "cancelled", "interrupted"].includes(job.state);
  $("#cancel-job").disabled = ended;
  if (job.state === "done" && job.kind === "sweep") {
    $("#job-after").innerHTML = `<a id="open-sweep" href="#/sweep/${esc(job.id)}">Open sweep ${esc(job.sweep_id || job.id)}</a>`;
    setTimeout(() => { if (location.hash.startsWith("#/job/")) location.hash = `#/sweep/${job.id}`; }, 400);
  }
  if (job.state === "done" && job.run_id) {
    $("#job-after").innerHTML = `<a id="open-run" href="#/run/${esc(job.run_id)}">Open run ${esc(job.run_id)}</a>`;
    setTimeout(() => { if (location.hash.startsWith("#/job/")) location.hash = `#/run/${job.run_id}`; }, 400);
  }
  if (job.error) {
    const probs = (job.error.problems || []).map((p) => `<li>${esc(p.field || "")}: ${esc(p.message)} ${p.fix ? "— fix: " + esc(p.fix) : ""}</li>`).join("");
    $("#job-error").innerHTML = `<div class="error">${esc(job.error.message || "the job failed")}${probs ? `<ul>${probs}</ul>` : ""}</div>`;
  }
}

// ------------------------------------------------------------------ run

async function runPage(id) {
  const run = await api(`/api/runs/${encodeURIComponent(id)}`);
  page().replaceChildren(h(`
    <h1>Run ${esc(run.id)} <span class="muted">${esc(run.scenario_name)} · ${esc(run.created)} · seed ${esc(run.seed)}</span></h1>
    <div class="toolbar">
      <button id="show-report" type="button" class="primary"${run.has_report ? "" : " disabled"}>Full report</button>
      <a id="report-tab" href="#" target="_blank" rel="noopener" hidden>open the report in a new tab</a>
      <a href="#/compare/${esc(run.id)}">compare with…</a>
      <button id="delete-run" type="button" class="danger">Delete run</button>
    </div>
    <section><h2>Headline</h2><div id="headline" class="cards"></div></section>
    <section><h2>Key figures</h2><div id="figures"><p class="muted">loading figures…</p></div></section>
    <section id="report-section" hidden><h2>Full report</h2><iframe id="report-frame" sandbox="allow-scripts allow-popups" title="report"></iframe></section>`));
  $("#headline").replaceChildren(...run.headlines.map((x) => h(
    `<div class="card" data-id="${esc(x.id)}"><div class="label">${esc(x.label)}</div><div class="value">${esc(x.text)}</div></div>`)));
  $("#show-report").onclick = async () => {
    const link = await api(`/api/runs/${encodeURIComponent(id)}/report-link`, { method: "POST" });
    $("#report-section").hidden = false;
    $("#report-frame").src = link.url;
    $("#report-tab").href = link.url; $("#report-tab").hidden = false;
    $("#report-section").scrollIntoView();
  };
  $("#delete-run").onclick = async () => {
    if (!confirm(`Delete run ${id}?`)) return;
    await api(`/api/runs/${encodeURIComponent(id)}`, { method: "DELETE" });
    location.hash = "#/runs";
  };
  let figs = {};
  try { figs = await api(`/api/runs/${encodeURIComponent(id)}/figures`); } catch (e) { if (!(e instanceof ApiError)) throw e; }
  const box = $("#figures");
  if (!box) return;
  box.replaceChildren();
  for (const [fid, fig] of Object.entries(figs)) {
    const div = document.createElement("div");
    div.className = "plot"; div.id = `ui-${fid}`;
    box.append(div);
    window.Plotly.newPlot(div, fig.data, fig.layout, { responsive: true, displaylogo: false });
  }
  if (!Object.keys(figs).length) box.innerHTML = `<p class="muted">This run's result.json is no longer in its folder; the headline above comes from the run store.</p>`;
}

// ------------------------------------------------------------------ sweeps

// A small sweep that runs in about a minute on the scenario in the editor: the cost of capital at the economics stage.
const EXAMPLE_SWEEP = `name: cost-of-capital
description: NPV and cost per GPU-hour across the WACC (economics stage only, no Monte Carlo)
method: grid
stages: [economics]
options: {economics_samples: 0}
parameters:
  - {path: finance.wacc, values: [0.07, 0.09, 0.11]}
objectives:
  - {metric: npv_usd, direction: max}
  - {metric: cost_per_gpu_hour_usd, direction: min}
`;
const sweepDraft = { text: EXAMPLE_SWEEP, workers: 1 };

async function sweepsPage() {
  page().replaceChildren(h(`
    <h1>Sweeps</h1>
    <p class="muted">A sweep runs the plan's stages over a grid or a sample of parameters (docs/sweeps.md) on the scenario in the
      editor (the bundled default until you load or change one) and ranks the points by its objectives.</p>
    <div class="editor">
      <div><textarea id="sweep-spec" spellcheck="false"></textarea>
        <div class="toolbar"><label>workers <input id="sweep-workers" type="number" min="1" max="64" value="1"></label>
          <button id="run-sweep" class="primary" type="button">Run sweep</button> <span id="sweep-scenario" class="muted"></span></div></div>
      <aside><div class="panel"><h3>Problems</h3><ul id="sweep-problems"></ul></div></aside>
    </div>
    <h2>Your sweeps</h2>
    <table id="sweeps-table" class="data"><thead><tr><th>job</th><th>name</th><th>state</th><th>points</th></tr></thead><tbody></tbody></table>
    <p id="sweeps-empty" class="muted" hidden>No sweeps yet.</p>`));
  $("#sweep-spec").value = sweepDraft.text;
  $("#sweep-workers").value = sweepDraft.workers;
  $("#sweep-spec").addEventListener("input", (e) => { sweepDraft.text = e.target.value; });
  $("#sweep-scenario").textContent = editor.data || editor.yaml ? "on the editor's scenario" : "on the bundled default scenario";
  $("#run-sweep").onclick = async () => {
    sweepDraft.workers = Number($("#sweep-workers").value) || 1;
    $("#run-sweep").disabled = true;
    const base = editor.yaml !== null && editor.yaml !== undefined ? { yaml: editor.yaml } : editor.data ? { scenario: editor.data } : {};
    try {
      const job = await api("/api/jobs", { method: "POST", body: { kind: "sweep", sweep: sweepDraft.text, ...base, options: { workers: sweepDraft.workers } } });
      location.hash = `#/job/${job.id}`;
    } catch (e) {
      $("#run-sweep").disabled = false;
      if (!(e instanceof ApiError) || e.status !== 422) throw e;
      $("#sweep-problems").replaceChildren(...(e.body.problems || [{ message: e.message }]).map((p) => {
        const li = document.createElement("li");
        li.innerHTML = `${p.line ? `<span class="muted">line ${p.line}</span> ` : ""}<b>${esc(p.field || "sweep")}</b>: ${esc(p.message)}` +
          (p.fix ? `<br>fix: ${esc(p.fix)}` : "");
        return li;
      }));
    }
  };
  const jobs = (await api("/api/jobs")).filter((j) => j.kind === "sweep");
  const tb = $("#sweeps-table tbody");
  if (!tb) return;
  tb.replaceChildren(...jobs.map((j) => h(`<tr><td><a href="#/${j.state === "done" ? "sweep" : "job"}/${esc(j.id)}">${esc(j.id)}</a></td>
    <td>${esc(j.scenario_name || j.name || "")}</td><td>${esc(j.state)}</td>
    <td class="num">${j.points ? `${j.points.done} / ${j.points.total}` : "—"}</td></tr>`)));
  $("#sweeps-empty").hidden = jobs.length > 0;
}

async function sweepPage(id) {
  const sw = await api(`/api/jobs/${encodeURIComponent(id)}/sweep`);
  // parameters: result column -> dotted scenario path (the header shows the path)
  const shown = [...Object.entries(sw.parameters), ...sw.objectives.map((o) => [o.metric, `${o.metric} (${o.direction})`])];
  page().replaceChildren(h(`
    <h1>Sweep ${esc(sw.name)} <span class="muted">${esc(sw.sweep_id)} · job ${esc(id)}</span></h1>
    <div class="cards" id="sweep-summary">
      <div class="card"><div class="label">points run</div><div class="value">${sw.recorded} of ${sw.points}</div></div>
      <div class="card"><div class="label">failed</div><div class="value">${sw.failed}</div></div>
      <div class="card"><div class="label">feasible (meet the constraints)</div><div class="value">${sw.feasible}</div></div>
      <div class="card"><div class="label">Pareto-optimal</div><div class="value">${sw.pareto.length}</div></div>
    </div>
    <div class="toolbar"><button id="show-sweep-report" type="button" class="primary">Analysis page</button></div>
    <table id="sweep-points" class="data"><thead><tr><th>point</th>${shown.map(([, label]) => `<th>${esc(label)}</th>`).join("")}<th>feasible</th><th>Pareto</th><th>status</th></tr></thead>
      <tbody>${sw.rows.map((r) => `<tr data-point="${esc(r.point)}"${r.pareto ? ' class="pareto"' : ""}><td class="num">${esc(r.point)}</td>` +
        shown.map(([col]) => `<td class="num">${esc(fmt(r[col]))}</td>`).join("") +
        `<td>${r.feasible ? "yes" : "no"}</td><td>${r.pareto ? "★" : ""}</td><td>${esc(r.status)}</td></tr>`).join("")}</tbody></table>
    <section id="sweep-report-section" hidden><h2>Analysis</h2><iframe id="sweep-report-frame" sandbox="allow-scripts allow-popups" title="sweep analysis"></iframe></section>`));
  $("#show-sweep-report").onclick = async () => {
    // a short-lived link: the frame cannot send the key, and the page's own CSP lets its inline plotly run
    const link = await api(`/api/jobs/${encodeURIComponent(id)}/sweep/report-link`, { method: "POST" });
    $("#sweep-report-section").hidden = false;
    $("#sweep-report-frame").src = link.url;
    $("#sweep-report-section").scrollIntoView();
  };
}

// ------------------------------------------------------------------ runs

async function runsPage() {
  page().replaceChildren(h(`
    <h1>Runs</h1>
    <div class="toolbar"><input id="run-search" type="search" placeholder="search by scenario name, id or date">
      <button id="compare-selected" type="button" class="primary" disabled>Compare selected</button></div>
    <table id="runs-table" class="data"><thead><tr><th></th><th>run</th><th>created (UTC)</th><th>scenario</th><th>GPUs</th>
      <th>TTFT P50 [days]</th><th>NPV [USD]</th><th>USD / GPU-h</th></tr></thead><tbody></tbody></table>
    <p id="runs-empty" class="muted" hidden>No runs yet: run a plan from the scenario editor.</p>`));
  let timer = null;
  // Ticked runs survive a redraw (a search's reload), and a reload answered after a newer one
  // is dropped, so the table never shows an older list or loses the user's selection.
  const picked = new Set();
  let generation = 0;
  const load = async () => {
    const mine = ++generation;
    const q = $("#run-search").value.trim();
    const runs = await api(`/api/runs${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    const tb = $("#runs-table tbody");
    if (!tb || mine !== generation) return; // the user has moved on, or a newer reload is coming
    tb.replaceChildren(...runs.map((r) => h(`<tr data-run-id="${esc(r.id)}"><td><input type="checkbox" value="${esc(r.id)}"${picked.has(r.id) ? " checked" : ""}></td>
      <td><a href="#/run/${esc(r.id)}">${esc(r.id)}</a></td><td>${esc(r.created)}</td><td>${esc(r.scenario_name)}</td>
      <td class="num">${fmt(r.headline.gpus)}</td><td class="num">${fmt(r.headline.ttft_days)}</td><td class="num">${fmt(r.headline.npv_usd)}</td>
      <td class="num">${fmt(r.headline.cost_per_gpu_hour_usd)}</td></tr>`)));
    $("#runs-empty").hidden = runs.length > 0;
    tb.querySelectorAll("input[type=checkbox]").forEach((c) => c.addEventListener("change", () => {
      if (c.checked) picked.add(c.value); else picked.delete(c.value);
      sel();
    }));
    sel();
  };
  const sel = () => { $("#compare-selected").disabled = $("#runs-table").querySelectorAll("input:checked").length < 2; };
  $("#run-search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 250); });
  leave = () => clearTimeout(timer);
  $("#compare-selected").onclick = () => {
    const ids = [...$("#runs-table").querySelectorAll("input:checked")].map((c) => c.value).reverse(); // oldest first: the baseline
    location.hash = `#/compare/${ids.join(",")}`;
  };
  await load();
}

// ------------------------------------------------------------------ compare

async function comparePage(idList) {
  const ids = (idList || "").split(",").filter(Boolean);
  if (ids.length < 2) {
    page().replaceChildren(h(`<h1>Compare runs</h1><p>Pick two or more runs in the <a href="#/runs">runs list</a> and press “Compare selected”.</p>`));
    return;
  }
  const c = await api(`/api/compare?${ids.map((i) => `ids=${encodeURIComponent(i)}`).join("&")}`);
  const head = c.runs.map((r, i) => `<th>${i === 0 ? "baseline " : ""}<a href="#/run/${esc(r.id)}">${esc(r.id)}</a><br><span class="muted">${esc(r.scenario_name)}</span></th>`).join("");
  const outRows = c.outputs.map((o) => `<tr data-key="${esc(o.key)}"><td>${esc(o.key)}</td>${o.values.map((v, i) => {
    // a rate (an IRR) moves in percentage points: a relative change of a value near zero means nothing
    const rate = /(^|[._])irr$/.test(o.key) && typeof v === "number" && typeof o.values[0] === "number";
    const ch = rate ? v - o.values[0] : o.change[i];
    const text = ch === null || ch === undefined ? "" : rate ? `${ch > 0 ? "+" : ""}${(ch * 100).toFixed(2)} pp` : `${ch > 0 ? "+" : ""}${(ch * 100).toFixed(1)} %`;
    const tag = i === 0 || !text ? "" : ` <span class="${ch > 0 ? "up" : ch < 0 ? "down" : "muted"}">(${text})</span>`;
    return `<td class="num">${fmt(v)}${tag}</td>`;
  }).join("")}</tr>`).join("");
  const inRows = c.inputs.map((x) => `<tr data-key="${esc(x.key)}"><td>${esc(x.key)}</td>${x.values.map((v) => `<td>${esc(typeof v === "object" && v !== null ? JSON.stringify(v) : fmt(v))}</td>`).join("")}</tr>`).join("");
  page().replaceChildren(h(`
    <h1>Compare ${c.runs.length} runs</h1>
    <h2>How each headline figure moved (change against the baseline)</h2>
    <table id="compare-outputs" class="data"><thead><tr><th>figure</th>${head}</tr></thead><tbody>${outRows}</tbody></table>
    <h2>Inputs that differ</h2>
    ${c.inputs.length ? `<table id="compare-inputs" class="data"><thead><tr><th>input</th>${head}</tr></thead><tbody>${inRows}</tbody></table>`
      : `<p id="compare-inputs" class="muted">The runs have the same inputs.</p>`}`));
}

// ------------------------------------------------------------------ shell

function keyPage(message) {
  page().replaceChildren(h(`<h1>API key</h1><p>${esc(message)}</p>
    <form class="keyform" id="keyform"><input id="key-input" type="password" placeholder="your API key" autocomplete="off"> <button class="primary">Use key</button></form>
    <p class="muted">Keys are set by whoever runs the server (docs/ui.md); <code>gigafactory ui</code> without --keys prints a URL that carries one.</p>`));
  $("#keyform").onsubmit = (e) => { e.preventDefault(); setKey($("#key-input").value.trim()); route(); };
}

// Bumped by every navigation: a page still loading when the user moves on must not paint its
// error over the page that replaced it.
let routeGen = 0;

async function route() {
  const gen = ++routeGen;
  if (leave) { leave(); leave = null; }
  if (!getKey()) return keyPage("This server needs an API key.");
  try {
    const me = await api("/api/me");
    if (gen !== routeGen) return;
    $("#who").textContent = `signed in as ${me.user}`;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return keyPage("The stored key was refused.");
    throw e;
  }
  const [, name = "editor", arg] = (location.hash.match(/^#\/([a-z]+)(?:\/(.*))?$/) || []);
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.id === `nav-${name}`);
  try {
    if (name === "job") await jobPage(decodeURIComponent(arg || ""));
    else if (name === "run") await runPage(decodeURIComponent(arg || ""));
    else if (name === "runs") await runsPage();
    else if (name === "compare") await comparePage(decodeURIComponent(arg || ""));
    else if (name === "sweeps") await sweepsPage();
    else if (name === "sweep") await sweepPage(decodeURIComponent(arg || ""));
    else await editorPage();
  } catch (e) {
    if (gen === routeGen) page().replaceChildren(h(`<p class="error" id="page-error">${esc(e.message || e)}</p>`));
  }
}

takeKeyFromUrl();
window.addEventListener("hashchange", route);
route();
