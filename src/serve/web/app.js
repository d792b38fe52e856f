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
    pairs: r.model.pairs, channels: r.model.channels.join(" "), latent: r.model.latent_channels, entropy: r.model.entropy,
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
      x.pairs, esc(x.channels), x.latent, esc(x.entropy), esc(x.lossw), esc(x.backend),
      fmt(x.best_loss, 5), fmt(x.psnr, 2), fmt(x.ssim, 4), fmt(x.bpp, 4),
    ];
    tr.innerHTML = cells.map((c, i) => `<td class="${i >= 3 && i <= 6 || i >= 10 ? "num" : ""}">${c}</td>`).join("");
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
  ["train", "mse_term", "c MSE"], ["train", "colour_term", "d colour (ΔE / 100)"],
  ["train", "rate_term", "λ bpp"],
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
let evalRows = [], evalSort = { key: "image", dir: 1 }, evalDetail = null, tableOrder = [];
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
    evalDetail = d;
    view.evalId = id;
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
      // A click on a point opens that image in the viewer.
      hooks: { ready: [(u) => u.over.addEventListener("click", () => {
        if (u.cursor.idx !== null && u.cursor.idx !== undefined) openViewer(evalRows[u.cursor.idx].image);
      })] },
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
  tableOrder = rows.map((r) => r.image);
  const body = document.querySelector("#per-image tbody");
  body.innerHTML = rows.map((r) => "<tr>" + cols.map(([k]) => {
    const v = val(r, k);
    return k === "image" ? `<td class="image-link" title="open in the viewer">${esc(v)}</td>` : `<td class=num>${fmt(v, digits[k.split(".")[1]])}</td>`;
  }).join("") + "</tr>").join("");
  body.querySelectorAll("td.image-link").forEach((td, i) => td.addEventListener("click", () => openViewer(rows[i].image)));
}

// Reports: a study against the paper's table, a rate–distortion comparison against the
// classical codecs; their charts drawn here from the numbers, their strips as written.
const reportCharts = [];

async function refreshReports() {
  try {
    const list = await getJson("/api/reports");
    document.querySelector("#reports tbody").replaceChildren(...list.reports.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.report = r.id;
      tr.innerHTML = `<td>${esc(r.id)}</td><td>${esc(r.title)}</td>`;
      tr.addEventListener("click", () => openReport(r.id));
      return tr;
    }));
  } catch (e) {
    showError(`cannot list reports: ${e.message}`);
  }
}

// One chart over the union of the series' x values (each series placed at its own).
function xyChart(host, title, xLabel, series, logx) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const data = [xs, ...series.map((s) => {
    const ys = new Array(xs.length).fill(null);
    for (const [x, y] of s.points) ys[at.get(x)] = y;
    return ys;
  })];
  const div = document.createElement("div");
  div.className = "chart";
  host.appendChild(div);
  reportCharts.push(new uPlot({
    title, width: Math.max(300, div.clientWidth - 16), height: 260,
    scales: { x: { time: false, distr: logx ? 3 : 1 } },
    axes: [{ label: xLabel }, { size: 60, values: (u, t) => t.map((v) => +v.toPrecision(4)) }],
    series: [{ label: xLabel }, ...series.map((s, i) => ({
      label: s.label, stroke: s.colour || COLOURS[i % COLOURS.length], width: s.dash ? 1 : 2, dash: s.dash ? [5, 4] : undefined,
      spanGaps: true, points: { show: true, size: 5 },
    }))],
  }, data, div));
}

async function openReport(id) {
  try {
    const r = await getJson("/api/report", { id });
    for (const c of reportCharts) c.destroy();
    reportCharts.length = 0;
    $("report-charts").replaceChildren();
    $("report-id").textContent = id;
    // Shown first: the charts take their width from the visible card.
    $("report-detail").hidden = false;
    if (r.kind === "study") renderStudy(r); else renderRd(r);
    $("report-images").replaceChildren(...r.images.filter((f) => r.kind === "rd" ? false : f.startsWith("strips/")).map((f) => {
      const fig = document.createElement("figure");
      fig.innerHTML = `<figcaption>${esc(f)}</figcaption><img alt="${esc(f)}" src="${api("/api/report/file", { id, file: f })}">`;
      return fig;
    }));
  } catch (e) {
    showError(`report ${id}: ${e.message}`);
  }
}

function renderStudy(r) {
  const d = r.data, rows = d.rows;
  $("report-note").textContent = `${d.description || ""} ${d.count} images from ${d.images}; ${d.machine || ""}, ${fmt(d.seconds, 0)} s.`;
  const head = "<tr><th>pairs</th><th></th><th class=num>PSNR</th><th class=num>SSIM</th><th class=num>ΔE00</th>" +
    "<th class=num>ratio</th><th class=num>JPEG q</th><th class=num>JPEG PSNR</th><th class=num>JPEG SSIM</th>" +
    "<th class=num>JPEG ΔE00</th><th class=num>train s</th></tr>";
  const body = rows.map((x) => {
    const a = x.autoencoder, j = x.jpeg || {}, p = x.paper;
    const mine = `<tr class="member" data-eval="${esc(`${r.id}/${x.experiment}`)}" title="open its evaluation"><td>${x.pairs}</td><td>niclab</td>` +
      `<td class=num>${fmt(a.psnr, 2)}</td><td class=num>${fmt(a.ssim, 4)}</td><td class=num>${fmt(a.colour && a.colour.delta_e, 2)}</td>` +
      `<td class=num>${fmt(a.ratio, 2)}</td><td class=num>${j.quality ?? "-"}</td><td class=num>${fmt(j.psnr, 2)}</td>` +
      `<td class=num>${fmt(j.ssim, 4)}</td><td class=num>${fmt(j.colour && j.colour.delta_e, 2)}</td><td class=num>${fmt(x.train_seconds, 0)}</td></tr>`;
    const paper = p ? `<tr class="paper"><td>${p.pairs}</td><td>paper</td><td class=num>${fmt(p.ae_psnr, 2)}</td><td class=num>${fmt(p.ae_ssim, 4)}</td>` +
      `<td class=num>-</td><td class=num>${fmt(p.ae_ratio, 2)}</td><td class=num>~${p.jpeg_quality}</td><td class=num>${fmt(p.jpeg_psnr, 2)}</td>` +
      `<td class=num>${fmt(p.jpeg_ssim, 4)}</td><td class=num>-</td><td class=num>-</td></tr>` : "";
    return mine + paper;
  }).join("");
  $("report-table").innerHTML = `<thead>${head}</thead><tbody>${body}</tbody>`;
  $("report-table").querySelectorAll("tr.member").forEach((tr) =>
    tr.addEventListener("click", () => openEval(tr.dataset.eval)));
  const line = (f) => rows.map((x) => [x.pairs, f(x)]).filter((p) => p[1] !== null && p[1] !== undefined);
  for (const [key, title] of [["psnr", "PSNR against depth (dB)"], ["ssim", "SSIM against depth"]]) {
    xyChart($("report-charts"), title, "conv pairs", [
      { label: "niclab", points: line((x) => x.autoencoder[key]), colour: COLOURS[0] },
      { label: "paper", points: line((x) => x.paper && x.paper[`ae_${key}`]), dash: true, colour: COLOURS[1] },
      { label: "JPEG (matched)", points: line((x) => x.jpeg && x.jpeg[key]), colour: COLOURS[2] },
    ]);
  }
  xyChart($("report-charts"), "ΔE00 against depth", "conv pairs", [
    { label: "niclab", points: line((x) => x.autoencoder.colour && x.autoencoder.colour.delta_e), colour: COLOURS[0] },
    { label: "JPEG (matched)", points: line((x) => x.jpeg && x.jpeg.colour && x.jpeg.colour.delta_e), colour: COLOURS[2] },
  ]);
}

function renderRd(r) {
  const d = r.data;
  $("report-note").innerHTML = `${d.count} images from ${esc(d.images)}, whole files and payloads.` +
    (d.bd_note ? ` <details><summary>why some BD-rates are missing</summary>${esc(d.bd_note)}</details>` : "");
  const pct = (v) => v === null || v === undefined ? "no overlap" : `${v > 0 ? "+" : ""}${v.toFixed(1)} %`;
  const metrics = [["psnr", "PSNR"], ["ssim", "SSIM"], ["ms_ssim", "MS-SSIM"], ["psnr_payload", "PSNR, payloads"], ["ssim_payload", "SSIM, payloads"]];
  $("report-table").innerHTML = "<thead><tr><th>BD-rate of niclab against</th>" + metrics.map(([, n]) => `<th class=num>${n}</th>`).join("") +
    "</tr></thead><tbody>" + d.bd.map((b) => `<tr><td>${esc(b.codec)}</td>` + metrics.map(([k]) => `<td class=num>${pct(b[k])}</td>`).join("") + "</tr>").join("") + "</tbody>";
  const curves = [...d.classic.map((c) => ({ label: c.codec, points: c.points })), { label: "niclab", points: d.models }];
  for (const [key, title] of [["psnr", "PSNR (dB)"], ["ssim", "SSIM"], ["ms_ssim", "MS-SSIM"], ["delta_e", "ΔE00 (lower is better)"]]) {
    const series = curves.map((c) => ({ label: c.label, points: c.points.filter((p) => p[key] !== null).map((p) => [p.bpp, p[key]]) }))
      .filter((s) => s.points.length);
    if (series.length) xyChart($("report-charts"), `${title} against bits per pixel`, "bpp (whole files)", series, true);
  }
}

// The viewer: two versions of one image over each other with a split between them. Zoom and
// pan are one transform shared by both sides, so the two can never drift apart.
const view = { evalId: null, src: null, order: [], index: 0, left: "original", right: "ae", s: 1, tx: 0, ty: 0, split: 0.5, w: 0, h: 0, fitted: false };

// What the viewer shows: the versions' names, a URL and a line of figures per version and
// image, and the images in order. An evaluation is one source, a codec trial another.
function evalSource() {
  const d = evalDetail;
  return {
    names: [...(d.originals ? ["original"] : []), ...d.versions.map((v) => v.name)],
    images: tableOrder.length ? [...tableOrder] : evalRows.map((r) => r.image),
    url: (version, image) => api("/api/eval/file", { id: view.evalId, version, image }),
    info: (version, image) => {
      if (version === "original") return `original: ${view.w} × ${view.h}`;
      const v = d.versions.find((x) => x.name === version);
      const row = v && d.per_image.find((r) => r.image === image && r.codec === v.codec && (v.codec === "ae" || r.quality === v.quality));
      return row ? figures(version, row.values) : version;
    },
  };
}

function trialSource(id, t) {
  const side = (name) => t.sides.find((s) => s.name === name);
  return {
    names: t.sides.map((s) => s.name),
    images: [t.input.split("/").pop()],
    url: (version) => api("/api/trial/file", { id, file: side(version).file }),
    info: (version) => {
      const s = side(version);
      if (version === "original") return `original: ${t.width} × ${t.height}, ${s.bytes} bytes`;
      return figures(s.quality ? `${version} (q${s.quality})` : version, s);
    },
  };
}

function figures(name, x) {
  return `${name}: ${x.bytes} bytes, ${fmt(x.bpp, 3)} bpp, PSNR ${fmt(x.psnr, 2)} dB, SSIM ${fmt(x.ssim, 4)}, ` +
    `ΔE00 ${fmt(x.delta_e, 2)}, ${fmt(x.seconds * 1000, 2)} ms`;
}

function openViewer(image, src) {
  if (!src && !evalDetail) return;
  view.src = src || evalSource();
  const names = view.src.names;
  if (!names.length) {
    showError("this evaluation kept no images (it was made with niclab eval --no-images)");
    return;
  }
  view.order = view.src.images;
  view.index = Math.max(0, view.order.indexOf(image));
  if (!names.includes(view.left)) view.left = names[0];
  if (!names.includes(view.right) || view.right === view.left) view.right = names.find((n) => n !== view.left) || names[0];
  for (const id of ["v-left", "v-right"]) $(id).replaceChildren(...names.map((n, i) => new Option(`${i + 1}  ${n}`, n)));
  $("v-error").disabled = !names.includes("original");
  $("viewer").hidden = false;
  view.fitted = false;
  loadViewer();
}

async function loadViewer() {
  const image = view.order[view.index];
  $("v-left").value = view.left;
  $("v-right").value = view.right;
  $("v-name").textContent = image;
  $("v-pos").textContent = `${view.index + 1} / ${view.order.length}`;
  const L = $("v-left-img"), R = $("v-right-img");
  L.src = view.src.url(view.left, image);
  R.src = view.src.url(view.right, image);
  try {
    await Promise.all([L.decode(), R.decode()]);
  } catch (e) {
    showError(`viewer: cannot show ${image} (${view.left} / ${view.right})`);
    return;
  }
  const sized = view.w === L.naturalWidth && view.h === L.naturalHeight;
  view.w = L.naturalWidth;
  view.h = L.naturalHeight;
  if (!view.fitted || !sized) fitView(); else applyView();
  $("v-left-info").textContent = view.src.info(view.left, image);
  $("v-right-info").textContent = view.src.info(view.right, image);
  await drawErrorMap();
}

function applyView() {
  const t = `translate(${view.tx}px, ${view.ty}px) scale(${view.s})`;
  for (const id of ["v-left-img", "v-right-img", "v-err"]) $(id).style.transform = t;
  const x = view.split * $("v-stage").clientWidth;
  $("v-right-layer").style.clipPath = `inset(0 0 0 ${x}px)`;
  $("v-split").style.left = `${x}px`;
  for (const id of ["v-left-layer", "v-right-layer"]) $(id).classList.toggle("pixelated", view.s >= 2);
  $("v-zoom").textContent = `${Math.round(view.s * 100)} %`;
}

function placeView(s) {
  const st = $("v-stage"), W = st.clientWidth, H = st.clientHeight;
  view.s = s;
  view.tx = (W - view.w * s) / 2;
  view.ty = (H - view.h * s) / 2;
  applyView();
}

function fitView() {
  const st = $("v-stage");
  view.fitted = true;
  placeView(Math.min(st.clientWidth / view.w, st.clientHeight / view.h));
}

// Zoom by `factor` keeping the stage point (mx, my) where it is.
function zoomAt(factor, mx, my) {
  const s = Math.min(64, Math.max(0.05, view.s * factor));
  view.tx = mx - (mx - view.tx) * s / view.s;
  view.ty = my - (my - view.ty) * s / view.s;
  view.s = s;
  applyView();
}

// |right - original| per channel, times the gain, in place of the right side.
async function drawErrorMap() {
  const c = $("v-err");
  const on = $("v-error").checked && view.src.names.includes("original") && view.right !== "original";
  c.hidden = !on;
  $("v-right-img").style.visibility = on ? "hidden" : "";
  if (!on) return;
  const orig = new Image();
  orig.src = view.src.url("original", view.order[view.index]);
  await orig.decode();
  const pixels = (img) => {
    const k = document.createElement("canvas");
    k.width = view.w;
    k.height = view.h;
    const g = k.getContext("2d");
    g.drawImage(img, 0, 0);
    return g.getImageData(0, 0, view.w, view.h).data;
  };
  const a = pixels(orig), b = pixels($("v-right-img"));
  const gain = Math.max(1, +$("v-gain").value || 8);
  c.width = view.w;
  c.height = view.h;
  const g = c.getContext("2d"), out = g.createImageData(view.w, view.h);
  for (let i = 0; i < a.length; i += 4) {
    for (let k = 0; k < 3; k++) out.data[i + k] = Math.min(255, Math.abs(a[i + k] - b[i + k]) * gain);
    out.data[i + 3] = 255;
  }
  g.putImageData(out, 0, 0);
}

function stepImage(d) {
  view.index = (view.index + d + view.order.length) % view.order.length;
  loadViewer();
}

function swapSides() {
  [view.left, view.right] = [view.right, view.left];
  loadViewer();
}

{
  const st = $("v-stage");
  let drag = null;
  st.addEventListener("pointerdown", (e) => {
    drag = { mode: e.target.id === "v-split" ? "split" : "pan", x: e.clientX, y: e.clientY };
    st.setPointerCapture(e.pointerId);
    if (drag.mode === "pan") st.classList.add("panning");
  });
  st.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (drag.mode === "split") {
      const r = st.getBoundingClientRect();
      view.split = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    } else {
      view.tx += e.clientX - drag.x;
      view.ty += e.clientY - drag.y;
    }
    drag.x = e.clientX;
    drag.y = e.clientY;
    applyView();
  });
  const end = () => { drag = null; st.classList.remove("panning"); };
  st.addEventListener("pointerup", end);
  st.addEventListener("pointercancel", end);
  st.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = st.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  $("v-left").addEventListener("change", () => { view.left = $("v-left").value; loadViewer(); });
  $("v-right").addEventListener("change", () => { view.right = $("v-right").value; loadViewer(); });
  $("v-swap").addEventListener("click", swapSides);
  $("v-prev").addEventListener("click", () => stepImage(-1));
  $("v-next").addEventListener("click", () => stepImage(1));
  $("v-fit").addEventListener("click", fitView);
  $("v-100").addEventListener("click", () => placeView(1));
  $("v-error").addEventListener("change", drawErrorMap);
  $("v-gain").addEventListener("input", drawErrorMap);
  $("v-close").addEventListener("click", () => { $("viewer").hidden = true; });
  window.addEventListener("resize", () => { if (!$("viewer").hidden) applyView(); });
  document.addEventListener("keydown", (e) => {
    if ($("viewer").hidden || ["SELECT", "TEXTAREA"].includes(e.target.tagName) ||
        (e.target.tagName === "INPUT" && e.target.type !== "checkbox")) return;
    const names = view.src.names;
    if (e.key === "ArrowLeft") stepImage(-1);
    else if (e.key === "ArrowRight") stepImage(1);
    else if (e.key === "Escape") $("viewer").hidden = true;
    else if (e.key === "s") swapSides();
    else if (e.key === "e" && !$("v-error").disabled) { $("v-error").checked = !$("v-error").checked; drawErrorMap(); }
    else if (e.key === "0") fitView();
    else if (/^[1-9]$/.test(e.key) && +e.key <= names.length) { view.right = names[+e.key - 1]; loadViewer(); }
    else return;
    e.preventDefault();
  });
}

// Jobs: the paper's compare button and trainings or studies started from the page, each a
// child niclab process the server follows; their progress arrives as "jobs" events.
let jobList = [];
const myCompares = new Set(), myTrials = new Set(), opened = new Set();

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
    $("try-model").replaceChildren(...o.codecs.map((c) => new Option(c.label, c.id)));
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
    for (const b of ["cmp-run-button", "launch-button", "try-button"]) $(b).disabled = busy;
    // A comparison started here opens when it is done, as the paper's button did.
    for (const j of jobList) {
      if (j.kind === "compare" && j.state === "finished" && myCompares.has(j.id) && !opened.has(j.id)) {
        opened.add(j.id);
        await refreshEvals();
        await openEval(j.result);
      }
      if (j.kind === "try" && j.state === "finished" && myTrials.has(j.id) && !opened.has(j.id)) {
        opened.add(j.id);
        await openTrial(j.result);
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
      (j.kind === "try" && j.state === "finished" ? `<a class="open-trial">open in the viewer</a> ` +
        `<a href="${api("/api/trial/file", { id: j.result, file: "niclab.nic" })}" download="niclab.nic">niclab.nic</a> ` +
        `<a href="${api("/api/trial/file", { id: j.result, file: "niclab.png" })}" download="niclab.png">niclab.png</a>` : "") +
      `</div>${stages}<pre>${esc(j.log.slice(-20).join("\n"))}</pre>`;
    const stop = div.querySelector(".stop");
    if (stop) stop.addEventListener("click", async () => {
      stop.disabled = true;
      try { await postJson("/api/jobs/stop", undefined, { id: j.id }); } catch (e) { showError(`stop: ${e.message}`); }
    });
    const pre = div.querySelector("pre");
    requestAnimationFrame(() => { pre.scrollTop = pre.scrollHeight; });
    const openTrialLink = div.querySelector(".open-trial");
    if (openTrialLink) openTrialLink.addEventListener("click", () => openTrial(j.result));
    const open = div.querySelector(".open");
    if (open) open.addEventListener("click", async () => { await refreshEvals(); await openEval(j.result); });
    return div;
  }));
}

async function openTrial(id) {
  try {
    const t = await getJson("/api/trial", { id });
    view.left = t.sides.some((s) => s.name === "original") ? "original" : "niclab";
    view.right = "niclab";
    openViewer(t.input.split("/").pop(), trialSource(id, t));
    if (t.notes.length) showError(`${id}: ${t.notes.join("; ")}`);
  } catch (e) {
    showError(`trial ${id}: ${e.message}`);
  }
}

// Try a codec: the chosen (or dropped) file is the request's body.
async function tryFile(file) {
  try {
    const nic = file.name.toLowerCase().endsWith(".nic");
    const r = await fetch(api("/api/try", nic ? {} : { model: $("try-model").value }), { method: "POST", body: file });
    const out = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
    if (!r.ok) throw new Error(out.error || `${r.status}`);
    myTrials.add(out.id);
    showError("");
    await refreshJobs();
  } catch (e) {
    showError(`try: ${e.message}`);
  }
}

$("try-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = $("try-file").files[0];
  if (f) tryFile(f); else showError("try: choose an image or a .nic file first");
});
$("try-form").addEventListener("dragover", (ev) => { ev.preventDefault(); $("try-form").classList.add("dropping"); });
$("try-form").addEventListener("dragleave", () => $("try-form").classList.remove("dropping"));
$("try-form").addEventListener("drop", (ev) => {
  ev.preventDefault();
  $("try-form").classList.remove("dropping");
  if (ev.dataTransfer.files[0]) tryFile(ev.dataTransfer.files[0]);
});
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
// ?eval=id opens that evaluation, and &image=NAME that image in the viewer; ?report=id a
// study or rate–distortion report.
const evalParam = new URLSearchParams(location.search).get("eval");
const imageParam = new URLSearchParams(location.search).get("image");
const reportParam = new URLSearchParams(location.search).get("report");
refreshRuns().then(refreshOptions).then(refreshCurves).then(refreshEvals).then(refreshReports)
  .then(() => evalParam ? openEval(evalParam) : null)
  .then(() => evalParam && imageParam ? openViewer(imageParam) : null)
  .then(() => reportParam ? openReport(reportParam) : null).then(connect);
