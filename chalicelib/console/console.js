// Marea's console: reads the same HTTP API as `marea` and curl. Every value from the API is put in the
// page as text (textContent / text nodes): target ids and explanations are user input. URLs are relative
// to the page, so it works under API Gateway's stage path and behind `marea console`'s forwarder.
"use strict";

const TIMELINE_DECISIONS = 200; // the newest of a target's decisions drawn on its timeline
const PAGE = 50;
const OUTCOME_COLOURS = {
  applied: "#11703a", failed: "#b00020", recommended: "#d08a00", skipped: "#8a8f99", pending: "#3b6fd8",
};

const state = { targets: [], query: {}, nextCursor: null, timelineTarget: null, timelineDecisions: [] };
let chart = null;

// ---- helpers --------------------------------------------------------------------------------------------
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

async function api(method, path, { query, body, contentType } = {}) {
  const url = new URL(path, document.baseURI);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = contentType || "application/json";
  }
  const response = await fetch(url, init);
  const text = await response.text();
  const json = (response.headers.get("Content-Type") || "").includes("json");
  const data = text && json ? JSON.parse(text) : null; // an HTML error page from a gateway is not JSON
  if (!response.ok) {
    const message = data && data.message ? `${data.code || response.status}: ${data.message}` : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return data;
}

function resourceOf(target) {
  if (target.kind === "asg") return `ASG ${target.asg_name}`;
  if (target.kind === "ecs") return `ECS ${target.cluster}/${target.service}`;
  if (target.kind === "kops") return `kops ${target.cluster_name} / ${target.instance_group}`;
  return target.kind;
}

function servingOf(decision) {
  const capacity = (decision && decision.inputs && decision.inputs.capacity) || {};
  if (capacity.in_service !== undefined) return capacity.in_service;
  if (capacity.running !== undefined) return capacity.running;
  return null;
}

function when(iso) {
  return iso ? iso.slice(0, 19).replace("T", " ") : "";
}

function figure(value) {
  return Number.isInteger(value) ? String(value) : Number(value).toFixed(1);
}

function outcomeCell(outcome) {
  return el("td", { class: `outcome outcome-${outcome}` }, outcome);
}

// ---- targets --------------------------------------------------------------------------------------------
async function loadTargets() {
  const body = await api("GET", "targets");
  state.targets = body.targets;
  const latest = await Promise.all(
    state.targets.map((t) => api("GET", "decisions", { query: { target: t.id, limit: 1 } }).then((d) => d.decisions[0]))
  );
  const rows = state.targets.map((target, index) => targetRow(target, latest[index]));
  document.querySelector("#targets tbody").replaceChildren(...rows);
  const select = document.querySelector("#filters select[name=target]");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"), ...state.targets.map((t) => el("option", { value: t.id }, t.id)));
  select.value = chosen;
}

function targetRow(target, last) {
  const modeButtons = [
    ["advise", { mode: "advise", paused: false }, target.mode === "advise" && !target.paused],
    ["act", { mode: "act", paused: false }, target.mode === "act" && !target.paused],
    [target.paused ? "resume" : "pause", { paused: !target.paused }, false],
  ].map(([label, patch, current]) => {
    const button = el("button", { type: "button", class: "act", dataset: { action: label } }, label);
    button.disabled = current;
    button.addEventListener("click", () => switchTarget(target, label, patch));
    return button;
  });
  const view = el("button", { type: "button", class: "act", dataset: { action: "timeline" } }, "timeline");
  view.addEventListener("click", () =>
    showTimeline(target.id).catch((error) => setStatus(`timeline of ${target.id}: ${error.message}`, true))
  );
  return el(
    "tr",
    { dataset: { target: target.id } },
    el("td", {}, target.id),
    el("td", {}, target.kind),
    el("td", {}, resourceOf(target)),
    el("td", { class: "mode" }, target.mode),
    el("td", { class: "paused" }, target.paused ? "yes" : "no"),
    el("td", {}, `${target.min}–${target.max}`),
    el("td", {}, last ? `${last.current} → ${last.final}` : "–"),
    el("td", {}, last && servingOf(last) !== null ? servingOf(last) : "–"),
    el("td", { class: "why" }, last ? `${when(last.created_at)} ${last.outcome}: ${last.explanation}` : "none yet"),
    el("td", {}, view, ...modeButtons)
  );
}

async function switchTarget(target, label, patch) {
  const what = label === "pause" ? "pause it (no evaluation acts or advises)" : label === "resume" ? "resume it" : `switch it to ${label} mode`;
  if (!window.confirm(`Target ${target.id}: ${what}?`)) return;
  try {
    await api("PATCH", `targets/${encodeURIComponent(target.id)}`, { body: patch, contentType: "application/merge-patch+json" });
    setStatus(`${target.id}: ${label} done`);
    await loadTargets();
  } catch (error) {
    setStatus(`${target.id}: ${label} refused: ${error.message}`, true);
  }
}

// ---- timeline -------------------------------------------------------------------------------------------
function metricPoints(decisions) {
  const byTime = new Map();
  let name = null;
  for (const decision of decisions) {
    const metrics = (decision.inputs && decision.inputs.metrics) || {};
    for (const [policy, points] of Object.entries(metrics)) {
      if (name === null) name = policy;
      if (policy !== name || !Array.isArray(points)) continue;
      for (const point of points) byTime.set(Date.parse(point.timestamp), point.value);
    }
  }
  const points = [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y }));
  return { name, points };
}

async function showTimeline(targetId) {
  const body = await api("GET", "decisions", { query: { target: targetId, limit: TIMELINE_DECISIONS } });
  const decisions = body.decisions.slice().reverse(); // oldest first
  state.timelineTarget = targetId;
  state.timelineDecisions = decisions;
  document.getElementById("timeline-section").hidden = false;
  document.getElementById("timeline-target").textContent = targetId;
  document.getElementById("marker-detail").hidden = true;
  document.getElementById("backtest-result").hidden = true;
  for (const row of document.querySelectorAll("#targets tbody tr")) row.classList.toggle("selected", row.dataset.target === targetId);
  const metric = metricPoints(decisions);
  document.getElementById("timeline-caption").textContent =
    `${decisions.length} newest decisions${body.cursor ? " (older ones in the list below)" : ""}; ` +
    `tracked metric: ${metric.name || "none recorded"}. Click a marker for its decision.`;
  drawTimeline(decisions, metric);
}

function drawTimeline(decisions, metric) {
  const at = (d) => Date.parse(d.created_at);
  const datasets = [
    { label: "desired", data: decisions.map((d) => ({ x: at(d), y: d.final })), stepped: true, borderColor: "#3b6fd8", pointRadius: 0, yAxisID: "units" },
    { label: "current", data: decisions.map((d) => ({ x: at(d), y: d.current })), stepped: true, borderColor: "#9aa4b8", borderDash: [4, 3], pointRadius: 0, yAxisID: "units" },
    { label: "serving", data: decisions.filter((d) => servingOf(d) !== null).map((d) => ({ x: at(d), y: servingOf(d) })), stepped: true, borderColor: "#11703a", pointRadius: 0, yAxisID: "units" },
    { label: metric.name ? `metric (${metric.name})` : "metric", data: metric.points, borderColor: "#d08a00", pointRadius: 0, borderWidth: 1, yAxisID: "metric" },
    {
      label: "decisions", type: "scatter", yAxisID: "units",
      data: decisions.map((d) => ({ x: at(d), y: d.final })),
      pointRadius: decisions.map((d) => (d.action === "none" ? 3 : 6)),
      pointBackgroundColor: decisions.map((d) => OUTCOME_COLOURS[d.outcome] || "#000"),
    },
  ];
  if (chart) chart.destroy();
  chart = new window.Chart(document.getElementById("timeline"), {
    type: "line",
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: "nearest", intersect: true },
      scales: {
        x: { type: "linear", ticks: { callback: (value) => new Date(value).toISOString().slice(11, 16) } },
        units: { type: "linear", position: "left", beginAtZero: true, title: { display: true, text: "units" } },
        metric: { type: "linear", position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "metric" } },
      },
      plugins: {
        tooltip: {
          filter: (item) => item.datasetIndex === 4,
          callbacks: {
            title: (items) => items.length ? when(decisions[items[0].dataIndex].created_at) : "",
            label: (item) => { const d = decisions[item.dataIndex]; return `${d.outcome}: ${d.explanation}`; },
          },
        },
      },
      onClick: (_event, elements) => {
        const marker = elements.find((e) => e.datasetIndex === 4);
        if (marker) showMarker(decisions[marker.index]);
      },
    },
  });
}

function showMarker(decision) {
  document.getElementById("marker-detail").hidden = false;
  document.getElementById("marker-title").textContent = `${when(decision.created_at)} · ${decision.current} → ${decision.final} (${decision.action})`;
  document.getElementById("marker-explanation").textContent = decision.explanation;
  document.getElementById("marker-outcome").textContent = decision.outcome + (decision.error ? ` (${decision.error})` : "");
  document.getElementById("marker-reasons").textContent = decision.reasons.join(", ");
  document.getElementById("marker-inputs").textContent = JSON.stringify(decision.inputs, null, 2);
}

// ---- backtest -------------------------------------------------------------------------------------------
async function runBacktest(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { target: state.timelineTarget, days: Number(form.get("days") || 1) };
  for (const field of ["unit_capacity", "target_utilization"]) {
    if (form.get(field)) body[field] = Number(form.get(field));
  }
  const box = document.getElementById("backtest-result");
  box.hidden = false;
  box.replaceChildren(el("p", {}, "replaying…"));
  try {
    const result = await api("POST", "backtest", { body });
    const rows = [
      ["under-provisioned minutes", "under_provisioned_minutes"],
      ["unit-hours", "unit_hours"],
      ["scaling actions", "scaling_actions"],
    ].map(([label, key]) =>
      el("tr", {}, el("td", {}, label), el("td", {}, figure(result.current.summary[key])), el("td", {}, figure(result.proposed.summary[key])))
    );
    box.replaceChildren(
      el("p", {}, `${result.minutes} minutes of ${result.demand_formula}`),
      el("table", { class: "backtest" },
        el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, result.current.label), el("th", {}, result.proposed.label))),
        el("tbody", {}, ...rows))
    );
  } catch (error) {
    box.replaceChildren(el("p", { class: "outcome-failed" }, `backtest refused: ${error.message}`));
  }
}

// ---- the decision list ----------------------------------------------------------------------------------
function readFilters() {
  const form = new FormData(document.getElementById("filters"));
  const utc = (value) => (value ? `${value.length === 16 ? value + ":00" : value}Z` : undefined);
  return {
    target: form.get("target") || undefined,
    outcome: form.get("outcome") || undefined,
    since: utc(form.get("since")),
    until: utc(form.get("until")),
    limit: PAGE,
  };
}

async function loadDecisions(cursor) {
  const body = await api("GET", "decisions", { query: { ...state.query, cursor } });
  state.nextCursor = body.cursor;
  document.getElementById("older").disabled = !body.cursor;
  const rows = body.decisions.map((d) =>
    el(
      "tr",
      { dataset: { decision: d.id } },
      el("td", {}, when(d.created_at)),
      el("td", {}, d.target_id),
      outcomeCell(d.outcome),
      el("td", {}, `${d.current} → ${d.final}`),
      el("td", {}, d.trigger ? d.trigger.type : ""),
      el("td", { class: "why" }, d.explanation)
    )
  );
  document.querySelector("#decisions tbody").replaceChildren(...rows);
}

async function refresh() {
  try {
    setStatus("loading…");
    await loadTargets();
    await loadDecisions();
    if (state.timelineTarget) await showTimeline(state.timelineTarget);
    setStatus(`updated ${new Date().toISOString().slice(11, 19)} UTC`);
  } catch (error) {
    setStatus(`cannot read the API: ${error.message}`, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("refresh").addEventListener("click", refresh);
  document.getElementById("backtest-form").addEventListener("submit", runBacktest);
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.query = readFilters();
    loadDecisions().catch((error) => setStatus(`filter refused: ${error.message}`, true));
  });
  document.getElementById("older").addEventListener("click", () => {
    loadDecisions(state.nextCursor).catch((error) => setStatus(error.message, true));
  });
  document.getElementById("newest").addEventListener("click", () => {
    loadDecisions().catch((error) => setStatus(error.message, true));
  });
  state.query = readFilters();
  refresh().then(() => { document.body.dataset.ready = "true"; });
});
