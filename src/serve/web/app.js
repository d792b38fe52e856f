// niclab serve: the runs table, overlaid live curves and the resolved configs.
// Plain JavaScript, no build step; charts by uPlot (vendored).
"use strict";

const token = new URLSearchParams(location.search).get("token");
const api = (path, params = {}) => {
  const q = new URLSearchParams(params);
  if (token) q.set("token", token);
  return `${path}?${q}`;
};
const $ = (id) => document.getElementById(id);

let runs = [];
const selected = new Set();
let sortKey = "id", sortDir = 1;
const charts = new Map();
const curveCache = new Map();

function showError(msg) {
  const e = $("error");
  e.textContent = msg || "";
  e.hidden = !msg;
}

async function getJson(path, params) {
  const r = await fetch(api(path, params));
  const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  if (!r.ok) throw new Error(body.error || `${r.status}`);
  return body;
}

// Folder names reach the page as text, never as markup.
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(v)) ? "-" : v.toFixed(d);

function row(r) {
  return {
    id: r.id, state: r.state, steps_done: r.steps_done,
    pairs: r.model.pairs, latent: r.model.latent_channels, entropy: r.model.entropy,
    lossw: `${r.loss.ssim} / ${r.loss.perceptual} / ${r.loss.mse} / ${r.loss.rate}`,
    backend: r.backend,
    best_loss: r.best ? r.best.loss : null,
    psnr: r.best ? r.best.psnr : null,
    ssim: r.best ? r.best.ssim : null,
    bpp: r.best ? r.best.bpp : null,
    run: r,
  };
}

function renderRuns() {
  const f = $("filter").value.trim().toLowerCase();
  const rows = runs.map(row).filter((x) =>
    !f || [x.id, x.state, x.backend, x.entropy].some((s) => String(s).toLowerCase().includes(f)));
  rows.sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : 1) * sortDir;
  });
  const tb = document.querySelector("#runs tbody");
  tb.replaceChildren(...rows.map((x) => {
    const tr = document.createElement("tr");
    tr.dataset.run = x.id;
    if (selected.has(x.id)) tr.classList.add("selected");
    const planned = x.run.steps_planned === null ? "?" : x.run.steps_planned;
    const cells = [
      `<input type="checkbox" ${selected.has(x.id) ? "checked" : ""} aria-label="select ${esc(x.id)}">`,
      `<a class="config-link">${esc(x.id)}</a>`,
      `<span class="state ${esc(x.state)}">${esc(x.state.replace("_", " "))}</span>`,
      `${x.steps_done} / ${planned}`,
      x.pairs, x.latent, esc(x.entropy), esc(x.lossw), esc(x.backend),
      fmt(x.best_loss, 5), fmt(x.psnr, 2), fmt(x.ssim, 4), fmt(x.bpp, 4),
    ];
    tr.innerHTML = cells.map((c, i) => `<td class="${i >= 3 && i <= 5 || i >= 9 ? "num" : ""}">${c}</td>`).join("");
    tr.querySelector("input").addEventListener("change", (e) => {
      if (e.target.checked) selected.add(x.id); else selected.delete(x.id);
      renderRuns();
      refreshCurves();
    });
    tr.querySelector(".config-link").addEventListener("click", () => showConfig(x.id));
    return tr;
  }));
  $("count").textContent = `${rows.length} of ${runs.length} runs`;
  fillRunChoices();
  $("empty").hidden = runs.length > 0;
  document.querySelectorAll("#runs th[data-key]").forEach((th) => {
    th.classList.toggle("sorted-asc", th.dataset.key === sortKey && sortDir === 1);
    th.classList.toggle("sorted-desc", th.dataset.key === sortKey && sortDir === -1);
  });
}

async function refreshRuns() {
  try {
    const list = await getJson("/api/runs");
    runs = list.runs;
    $("root").textContent = list.root;
    for (const id of [...selected]) if (!runs.some((r) => r.id === id)) selected.delete(id);
    renderRuns();
    if (list.unreadable.length) {
      showError(list.unreadable.map((u) => `${u.id}: ${u.error}`).join("; "));
    } else {
      showError("");
    }
  } catch (e) {
    showError(`cannot list runs: ${e.message}`);
  }
}

async function showConfig(id) {
  try {
    const r = await fetch(api("/api/config", { run: id }));
    const text = await r.text();
    if (!r.ok) throw new Error(JSON.parse(text).error);
    $("config-run").textContent = id;
    $("config").textContent = text;
    $("config-view").hidden = false;
  } catch (e) {
    showError(`config of ${id}: ${e.message}`);
  }
}

// Exponential moving average, as TensorBoard's smoothing slider (debiased at the start).
function smooth(values, w) {
  if (w <= 0) return values;
  let last = 0, n = 0;
  return values.map((v) => {
    if (v === null) return null;
    n += 1;
    last = last * w + (1 - w) * v;
    return last / (1 - Math.pow(w, n));
  });
}

// Which curves there are: training columns and validation columns.
const SERIES = [
  ["train", "loss", "training loss"], ["train", "lr", "learning rate"],
  ["train", "ssim_term", "a (1 - SSIM)"], ["train", "perceptual_term", "b perceptual"],
  ["train", "mse_term", "c MSE"], ["train", "rate_term", "λ bpp"],
  ["validation", "val_loss", "validation loss"], ["validation", "val_psnr", "validation PSNR (dB)"],
  ["validation", "val_ssim", "validation SSIM"], ["validation", "val_bpp", "validation bpp"],
  ["train", "images_per_sec", "images / s"],
];
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function drawCharts() {
  const w = parseFloat($("smooth").value);
  const logy = $("logy").checked;
  const ids = [...selected].filter((id) => curveCache.has(id));
  const host = $("charts");
  const wanted = new Set();
  for (const [part, col, title] of SERIES) {
    const present = ids.filter((id) => curveCache.get(id)[part][col]);
    if (!present.length) continue;
    const key = `${part}/${col}`;
    wanted.add(key);
    // One x axis: the union of every run's steps; each run's values placed on it.
    const steps = [...new Set(present.flatMap((id) => curveCache.get(id)[part].step))].sort((a, b) => a - b);
    const at = new Map(steps.map((s, i) => [s, i]));
    const data = [steps];
    for (const id of present) {
      const c = curveCache.get(id)[part];
      const ys = new Array(steps.length).fill(null);
      const sm = col === "lr" ? c[col] : smooth(c[col], w);
      c.step.forEach((s, i) => { ys[at.get(s)] = sm[i] !== null && logy && sm[i] <= 0 ? null : sm[i]; });
      data.push(ys);
    }
    const div = document.createElement("div");
    div.className = "chart";
    div.dataset.curve = key;
    const old = charts.get(key);
    if (old) old.div.replaceWith(div); else host.appendChild(div);
    if (old) old.plot.destroy();
    const opts = {
      title, width: Math.max(300, div.clientWidth - 16), height: 240,
      scales: { x: { time: false }, y: { distr: logy ? 3 : 1 } },
      // Three significant digits: a learning rate of 2e-3 and 1.5e-3 must not both read 0.002.
      axes: [{ label: "step" }, { size: 60, values: (u, ticks) => ticks.map((v) => +v.toPrecision(3)) }],
      series: [{ label: "step" }, ...present.map((id, i) => ({
        label: id, stroke: COLOURS[ids.indexOf(id) % COLOURS.length], width: 1.5, spanGaps: true,
      }))],
    };
    charts.set(key, { div, plot: new uPlot(opts, data, div) });
  }
  for (const [key, c] of charts) {
    if (!wanted.has(key)) { c.plot.destroy(); c.div.remove(); charts.delete(key); }
  }
}

async function refreshCurves() {
  try {
    await Promise.all([...selected].map(async (id) => {
      curveCache.set(id, await getJson("/api/curves", { run: id, points: 1000 }));
    }));
    drawCharts();
  } catch (e) {
    showError(`curves: ${e.message}`);
  }
}

// Evaluations: the paper's averages panel, per-image plots and a sortable table.
let evalRows = [], evalSort = { key: "image", dir: 1 };
const evalCharts = [];

async function refreshEvals() {
  try {
    const list = await getJson("/api/evals");
    const tb = document.querySelector("#evals tbody");
    tb.replaceChildren(...list.evals.map((e) => {
      const s = e.summary, a = s.autoencoder, j = (s.jpeg || [])[0] || {};
      const tr = document.createElement("tr");
      tr.dataset.eval = e.id;
      const jq = j.quality === undefined ? "-" : `${esc(j.codec)} q${j.quality}${j.chosen_by ? ` (${esc(j.chosen_by)})` : ""}`;
      tr.innerHTML = [esc(e.id), s.count, fmt(a.psnr, 2), fmt(a.ssim, 4), fmt(a.colour && a.colour.delta_e, 2),
        fmt(a.ratio, 2), jq, fmt(j.psnr, 2), fmt(j.ssim, 4), fmt(j.colour && j.colour.delta_e, 2), fmt(j.ratio, 2)]
        .map((c, i) => `<td class="${i === 0 || i === 6 ? "" : "num"}">${c}</td>`).join("");
      tr.addEventListener("click", () => openEval(e.id));
      return tr;
    }));
  } catch (e) {
    showError(`cannot list evaluations: ${e.message}`);
  }
}

async function openEval(id) {
  try {
    const d = await getJson("/api/eval", { id });
    const s = d.summary;
    $("eval-id").textContent = id;
    const rows = [["autoencoder", s.autoencoder], ...(s.jpeg || []).map((j) => [`${j.codec} q${j.quality}`, j])];
    $("averages").innerHTML = "<tr><th></th><th class=num>PSNR (dB)</th><th class=num>SSIM</th><th class=num>ΔE00</th>" +
      "<th class=num>ratio</th><th class=num>bpp</th><th class=num>s / image</th></tr>" +
      rows.map(([n, c]) => `<tr><td>${esc(n)}</td><td class=num>${fmt(c.psnr, 2)}</td><td class=num>${fmt(c.ssim, 4)}</td>` +
        `<td class=num>${fmt(c.colour && c.colour.delta_e, 2)}</td><td class=num>${fmt(c.ratio, 2)}</td>` +
        `<td class=num>${fmt(c.bpp, 3)}</td><td class=num>${fmt(c.seconds_per_image, 5)}</td></tr>`).join("");
    // One row per image: the autoencoder's figures and the first JPEG setting's.
    const byImage = new Map();
    const jq = s.jpeg && s.jpeg[0] ? String(s.jpeg[0].quality) : null;
    for (const r of d.per_image) {
      const x = byImage.get(r.image) || { image: r.image };
      if (r.codec === "ae") x.ae = r.values; else if (r.quality === jq && !x.jpeg) x.jpeg = r.values;
      byImage.set(r.image, x);
    }
    evalRows = [...byImage.values()].sort((a, b) => a.image < b.image ? -1 : 1);
    // Shown first: the charts take their width from the visible card.
    $("eval-detail").hidden = false;
    drawEvalCharts();
    renderPerImage();
  } catch (e) {
    showError(`evaluation ${id}: ${e.message}`);
  }
}

function drawEvalCharts() {
  for (const c of evalCharts) c.destroy();
  evalCharts.length = 0;
  const host = $("eval-charts");
  host.replaceChildren();
  const names = evalRows.map((r) => r.image);
  const xs = evalRows.map((_, i) => i);
  for (const [key, title] of [["ssim", "SSIM per image"], ["psnr", "PSNR per image (dB)"], ["ratio", "compression ratio per image"]]) {
    const div = document.createElement("div");
    div.className = "chart";
    host.appendChild(div);
    const get = (part) => evalRows.map((r) => r[part] ? r[part][key] : null);
    evalCharts.push(new uPlot({
      title, width: Math.max(300, div.clientWidth - 16), height: 220,
      scales: { x: { time: false } },
      axes: [{ label: "image (by name)" }, { size: 60, values: (u, t) => t.map((v) => +v.toPrecision(3)) }],
      series: [
        { label: "image", value: (u, v) => v === null ? "-" : names[v] },
        { label: "autoencoder", stroke: COLOURS[0], width: 1 },
        { label: "JPEG", stroke: COLOURS[1], width: 1 },
      ],
    }, [xs, get("ae"), get("jpeg")], div));
  }
}

function renderPerImage() {
  const cols = [["image", "image"], ["ae.psnr", "AE PSNR"], ["ae.ssim", "AE SSIM"], ["ae.delta_e", "AE ΔE00"],
    ["ae.ratio", "AE ratio"], ["jpeg.psnr", "JPEG PSNR"], ["jpeg.ssim", "JPEG SSIM"], ["jpeg.delta_e", "JPEG ΔE00"], ["jpeg.ratio", "JPEG ratio"]];
  const val = (r, k) => {
    if (k === "image") return r.image;
    const [p, f] = k.split(".");
    return r[p] ? r[p][f] : null;
  };
  const { key, dir } = evalSort;
  const rows = [...evalRows].sort((a, b) => {
    const x = val(a, key), y = val(b, key);
    if (x === y) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  const head = document.querySelector("#per-image thead");
  head.innerHTML = "<tr>" + cols.map(([k, n]) =>
    `<th data-key="${k}" class="${k === "image" ? "" : "num"} ${k === key ? (dir === 1 ? "sorted-asc" : "sorted-desc") : ""}">${n}</th>`).join("") + "</tr>";
  head.querySelectorAll("th").forEach((th) => th.addEventListener("click", () => {
    evalSort = { key: th.dataset.key, dir: evalSort.key === th.dataset.key ? -evalSort.dir : 1 };
    renderPerImage();
  }));
  const digits = { psnr: 2, ssim: 4, delta_e: 2, ratio: 2 };
  document.querySelector("#per-image tbody").innerHTML = rows.map((r) => "<tr>" + cols.map(([k]) => {
    const v = val(r, k);
    return k === "image" ? `<td>${esc(v)}</td>` : `<td class=num>${fmt(v, digits[k.split(".")[1]])}</td>`;
  }).join("") + "</tr>").join("");
}

// Jobs: the paper's compare button and trainings or studies started from the page, each a
// child niclab process the server follows; their progress arrives as "jobs" events.
let jobList = [];
const myCompares = new Set(), opened = new Set();

async function postJson(path, body, params) {
  const r = await fetch(api(path, params), {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const out = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  if (!r.ok) throw new Error(out.error || `${r.status}`);
  return out;
}

async function refreshOptions() {
  try {
    const o = await getJson("/api/options");
    $("cmp-images").replaceChildren(...o.images.map((i) => new Option(`${i.id} (${i.images} images)`, i.id)));
    $("launch-file").replaceChildren(...o.experiments.map((e) =>
      new Option(`${e.file} (${e.kind}${e.name ? `: ${e.name}` : ""})`, e.file)));
    $("exp-root").textContent = o.experiments_root;
    suggestOut();
  } catch (e) {
    showError(`options: ${e.message}`);
  }
}

// The runs a comparison can use: any with a checkpoint (not those not started).
function fillRunChoices() {
  const sel = $("cmp-run"), cur = sel.value;
  sel.replaceChildren(...runs.filter((r) => r.state !== "not_started").map((r) => new Option(r.id, r.id)));
  if (cur && runs.some((r) => r.id === cur)) sel.value = cur;
  suggestOut();
}

// A default evaluation name from the run and the folder, until the user types one.
function suggestOut() {
  const out = $("cmp-out");
  if (out.dataset.edited) return;
  const r = $("cmp-run").value, i = $("cmp-images").value;
  if (r && i) out.value = `${r}-${i.split("/").pop()}`.replace(/[^A-Za-z0-9._-]/g, "-");
}

async function refreshJobs() {
  try {
    jobList = (await getJson("/api/jobs")).jobs;
    renderJobs();
    const busy = jobList.some((j) => j.state === "running");
    $("cmp-run-button").disabled = busy;
    $("launch-button").disabled = busy;
    // A comparison started here opens when it is done, as the paper's button did.
    for (const j of jobList) {
      if (j.kind === "compare" && j.state === "finished" && myCompares.has(j.id) && !opened.has(j.id)) {
        opened.add(j.id);
        await refreshEvals();
        await openEval(j.result);
      }
    }
  } catch (e) {
    showError(`jobs: ${e.message}`);
  }
}

function renderJobs() {
  $("jobs").replaceChildren(...jobList.map((j) => {
    const div = document.createElement("div");
    div.className = "job";
    div.dataset.job = j.id;
    const stages = j.progress.map((p) =>
      `<div class="stage">${esc(p.stage)} <progress max="${p.total || 1}" value="${p.done}"></progress> ` +
      `<span class="done">${p.done}</span> / ${p.total || "?"} <span class="muted">${esc(p.message)}</span></div>`).join("");
    div.innerHTML = `<div class="head"><b>#${j.id}</b> <span>${esc(j.title)}</span>` +
      `<span class="state ${esc(j.state)}">${esc(j.state)}</span>` +
      (j.state === "running" ? `<button class="stop">Stop</button>` : "") +
      (j.kind === "compare" && j.state === "finished" ? `<a class="open">open the evaluation</a>` : "") +
      `</div>${stages}<pre>${esc(j.log.slice(-20).join("\n"))}</pre>`;
    const stop = div.querySelector(".stop");
    if (stop) stop.addEventListener("click", async () => {
      stop.disabled = true;
      try { await postJson("/api/jobs/stop", undefined, { id: j.id }); } catch (e) { showError(`stop: ${e.message}`); }
    });
    const pre = div.querySelector("pre");
    requestAnimationFrame(() => { pre.scrollTop = pre.scrollHeight; });
    const open = div.querySelector(".open");
    if (open) open.addEventListener("click", async () => { await refreshEvals(); await openEval(j.result); });
    return div;
  }));
}

$("cmp-run").addEventListener("change", suggestOut);
$("cmp-images").addEventListener("change", suggestOut);
$("cmp-out").addEventListener("input", () => { $("cmp-out").dataset.edited = "1"; });
$("compare-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const job = await postJson("/api/compare", {
      run: $("cmp-run").value, images: $("cmp-images").value,
      out: $("cmp-out").value, quality: $("cmp-quality").value.trim(),
    });
    myCompares.add(job.id);
    showError("");
    await refreshJobs();
  } catch (e) {
    showError(`compare: ${e.message}`);
  }
});
$("launch-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const set = $("launch-set").value.split("\n").map((l) => l.trim()).filter((l) => l);
    await postJson("/api/launch", { file: $("launch-file").value, set, resume: $("launch-resume").checked });
    showError("");
    await refreshJobs();
  } catch (e) {
    showError(`start: ${e.message}`);
  }
});

function connect() {
  const es = new EventSource(api("/api/events"));
  es.addEventListener("runs", async () => {
    $("live").textContent = "● live";
    await refreshRuns();
    await refreshCurves();
  });
  es.addEventListener("jobs", refreshJobs);
  es.onerror = () => { $("live").textContent = "○ reconnecting"; };
}

document.querySelectorAll("#runs th[data-key]").forEach((th) => th.addEventListener("click", () => {
  if (sortKey === th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = 1; }
  renderRuns();
}));
$("filter").addEventListener("input", renderRuns);
$("smooth").addEventListener("input", () => { $("smooth-v").textContent = parseFloat($("smooth").value).toFixed(2); drawCharts(); });
$("logy").addEventListener("change", drawCharts);
// ?select=a,b pre-selects runs (a link that opens with their curves drawn).
for (const id of (new URLSearchParams(location.search).get("select") || "").split(",")) {
  if (id) selected.add(id);
}
$("worst").addEventListener("click", () => { evalSort = { key: "ae.ssim", dir: 1 }; renderPerImage(); });
// ?eval=id opens that evaluation.
const evalParam = new URLSearchParams(location.search).get("eval");
refreshRuns().then(refreshOptions).then(refreshCurves).then(refreshEvals)
  .then(() => evalParam ? openEval(evalParam) : null).then(connect);
