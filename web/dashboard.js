// The ebs-flow dashboard: polls the JSON endpoints of `ebs-flow run --http` and draws the workflow
// graph with live rates, the latest alerts (cutouts, light curves) and sky events (Mollweide maps
// with their coincident candidates). No framework: the page must stay small and fast to render.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const SVG = 'http://www.w3.org/2000/svg';
function el(tag, attrs = {}, parent = null, text = null) {
  const node = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
async function api(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(path + ': ' + res.status);
  return res.json();
}
const fmt = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n)) ? '–' :
  Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// ---- workflow graph ---------------------------------------------------------------------------
let graph = null;
const nodeW = 170, nodeH = 58, colW = 220, rowH = 76;

function layout(actors) {
  const byId = new Map(actors.map(a => [a.id, a]));
  const layer = new Map();
  const depth = (a, seen = new Set()) => {
    if (layer.has(a.id)) return layer.get(a.id);
    if (seen.has(a.id)) return 0;
    seen.add(a.id);
    let d = 0;
    for (const w of a.inputs) if (w.port !== 'dead_letters' && byId.has(w.from)) d = Math.max(d, depth(byId.get(w.from), seen) + 1);
    layer.set(a.id, d);
    return d;
  };
  actors.forEach(a => depth(a));
  const maxLayer = Math.max(0, ...layer.values());
  for (const a of actors) if (a.id === 'dead_letters' && !a.inputs.some(w => w.port !== 'dead_letters')) layer.set(a.id, maxLayer + 1);
  const rows = new Map(), pos = new Map();
  for (const a of actors) {
    const l = layer.get(a.id), r = rows.get(l) || 0;
    rows.set(l, r + 1);
    pos.set(a.id, { x: 10 + l * colW, y: 10 + r * rowH });
  }
  return { pos, width: 20 + (Math.max(...layer.values()) + 1) * colW - (colW - nodeW), height: 20 + Math.max(...rows.values()) * rowH - (rowH - nodeH) };
}

function drawGraph(g) {
  graph = g;
  $('#workflow').textContent = g.workflow;
  document.title = 'ebs-flow · ' + g.workflow;
  const box = $('#graph');
  box.textContent = '';
  if (!g.actors.length) return;
  const { pos, width, height } = layout(g.actors);
  const svg = el('svg:svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'workflow graph' }, box);
  const defs = el('svg:defs', {}, svg);
  const marker = el('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, defs);
  el('svg:path', { d: 'M0,0 L10,5 L0,10 z', fill: '#5a6a88' }, marker);
  for (const a of g.actors) {
    const to = pos.get(a.id);
    for (const w of a.inputs) {
      const from = pos.get(w.from);
      if (!from) continue;
      const x1 = from.x + nodeW, y1 = from.y + nodeH / 2, x2 = to.x, y2 = to.y + nodeH / 2, mx = (x1 + x2) / 2;
      el('svg:path', { class: 'edge' + (w.port === 'dead_letters' ? ' dl' : ''), d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }, svg)
        .appendChild(el('svg:title', {}, null, `${w.from}.${w.port} → ${a.id}.${w.to_port}`));
    }
  }
  for (const a of g.actors) {
    const p = pos.get(a.id);
    const sink = !a.outputs.length;
    const node = el('svg:g', { class: 'node' + (a.source ? ' source' : sink ? ' sink' : ''), 'data-id': a.id, transform: `translate(${p.x},${p.y})` }, svg);
    el('svg:rect', { width: nodeW, height: nodeH }, node);
    el('svg:text', { x: 8, y: 16, 'font-weight': 600 }, node, a.id + (a.parallelism > 1 ? ` ×${a.parallelism}` : ''));
    el('svg:text', { x: 8, y: 31 }, node, a.type + onNodes(a));
    el('svg:text', { x: 8, y: 48, class: 'rate' }, node, '– /s');
    el('svg:text', { x: nodeW - 8, y: 48, 'text-anchor': 'end', class: 'dead' }, node, '');
  }
  const tbody = $('#stats tbody');
  tbody.textContent = '';
  for (const a of g.actors) {
    const tr = el('tr', { 'data-id': a.id }, tbody);
    el('td', {}, tr, a.id);
    el('td', {}, tr, a.type + onNodes(a));
    for (let i = 0; i < 9; ++i) el('td', {}, tr, '');
  }
}

// A cluster run: the nodes an actor's instances run on (" · node1, node2"); nothing in one process.
function onNodes(a) {
  const nodes = [...new Set(a.nodes || [])];
  return nodes.length ? ' · ' + nodes.join(', ') : '';
}

function sparkline(values) {
  const w = 120, h = 20, max = Math.max(1, ...values);
  const svg = el('svg:svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}` });
  if (values.length > 1) {
    const pts = values.map((v, i) => `${(i / (values.length - 1) * w).toFixed(1)},${(h - 1 - v / max * (h - 2)).toFixed(1)}`).join(' ');
    el('svg:polyline', { points: pts, fill: 'none', stroke: '#5cc8ff', 'stroke-width': 1.2 }, svg);
  }
  return svg;
}

function drawStats(s) {
  $('#state').textContent = s.state + (s.state === 'ended' || s.state === 'stopped' ? (s.accounting_ok ? ' (accounting balanced)' : ' (accounting FAILED)') : '');
  $('#elapsed').textContent = fmt(s.elapsed_s, 1);
  $('#feed').textContent = fmt(s.feed_records);
  // A cluster run: kept records its nodes skipped (over a shipment's budget), never on this page.
  $('#not-shipped').textContent = s.feed_not_shipped ? ` (${fmt(s.feed_not_shipped)} not shipped by the nodes)` : '';
  for (const a of s.actors) {
    const node = $(`#graph g.node[data-id="${CSS.escape(a.id)}"]`);
    if (node) {
      node.querySelector('.rate').textContent = `${fmt(a.rate_in)} /s · q ${a.queued_batches}`;
      node.querySelector('.dead').textContent = a.dead_letters ? `✉ ${fmt(a.dead_letters)}` : '';
    }
    const tr = $(`#stats tr[data-id="${CSS.escape(a.id)}"]`);
    if (!tr) continue;
    const cells = tr.children;
    cells[2].textContent = fmt(a.rate_in);
    cells[3].textContent = '';
    cells[3].appendChild(sparkline(a.history));
    [a.in, a.forwarded, a.filtered, a.failed, a.dead_letters, a.queued_batches].forEach((v, i) => { cells[4 + i].textContent = fmt(v); });
    cells[8].className = a.dead_letters ? 'bad' : '';
    // Sinks: end-to-end latency of what they released (docs/performance.md).
    const l = a.latency_ms;
    cells[10].textContent = l && l.records ? `${fmt(l.p50, 1)} / ${fmt(l.p99, 1)} / ${fmt(l.max, 1)}` : '';
  }
  document.body.dataset.statsUpdates = String(Number(document.body.dataset.statsUpdates || 0) + 1);
}

// ---- alerts: cutouts and light curves ---------------------------------------------------------
const bandColour = { g: '#3fb950', r: '#ff6b6b', i: '#f0883e', u: '#a371f7', z: '#8b949e', y: '#d2a8ff' };
let shownAlerts = '';

function drawLightcurve(svg, lc) {
  const W = 400, H = 150, L = 36, R = 8, T = 8, B = 22;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.textContent = '';
  const pts = lc.points;
  if (!pts.length) return;
  const mags = pts.map(p => p.kind === 'upper_limit' ? p.limit : p.mag);
  let t0 = Math.min(...pts.map(p => p.mjd)), t1 = Math.max(...pts.map(p => p.mjd));
  let m0 = Math.min(...mags) - 0.3, m1 = Math.max(...mags) + 0.3;
  if (t1 - t0 < 1) { t0 -= 0.5; t1 += 0.5; }
  const x = t => L + (t - t0) / (t1 - t0) * (W - L - R), y = m => T + (m - m0) / (m1 - m0) * (H - T - B);  // bright up
  el('svg:line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }, svg);
  el('svg:line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }, svg);
  el('svg:text', { x: L, y: H - 6 }, svg, 'MJD ' + t0.toFixed(1));
  el('svg:text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, svg, t1.toFixed(1));
  el('svg:text', { x: 2, y: T + 8 }, svg, m0.toFixed(1));
  el('svg:text', { x: 2, y: H - B }, svg, m1.toFixed(1));
  for (const p of pts) {
    const c = bandColour[p.band] || '#ccc', px = x(p.mjd);
    if (p.kind === 'upper_limit') {  // fainter than the limit: a triangle pointing down (to fainter magnitudes)
      const py = y(p.limit);
      el('svg:path', { class: 'limit', d: `M${px - 4},${py - 3} L${px + 4},${py - 3} L${px},${py + 4} z`, fill: 'none', stroke: c, opacity: 0.7 }, svg);
    } else {
      const py = y(p.mag);
      if (p.mag_err) el('svg:line', { x1: px, x2: px, y1: y(p.mag - p.mag_err), y2: y(p.mag + p.mag_err), stroke: c }, svg);
      el('svg:circle', { class: 'detection', cx: px, cy: py, r: 3, fill: c }, svg);
    }
  }
  const bands = [...new Set(pts.map(p => p.band))];
  bands.forEach((b, i) => el('svg:text', { x: W - R - 12 * (bands.length - i), y: T + 8, fill: bandColour[b] || '#ccc' }, svg, b));
}

function drawAlerts(alerts) {
  const key = alerts.map(a => a.alert_id).join(',');
  if (key === shownAlerts) return;
  shownAlerts = key;
  const box = $('#alerts');
  if (!alerts.length) return;
  box.textContent = '';
  for (const a of alerts.slice(0, 12)) {
    const card = el('article', { class: 'alert', 'data-id': a.alert_id }, box);
    const h = el('h3', {}, card, `${a.object_id} `);
    el('small', {}, h, `${a.survey} ${a.band} ${fmt(a.mag, 2)} ± ${fmt(a.mag_err, 2)} · MJD ${fmt(a.mjd_tai, 4)} · ra ${fmt(a.ra, 5)} dec ${fmt(a.dec, 5)}` +
      (a.real_bogus !== null ? ` · rb ${fmt(a.real_bogus, 2)}` : '') + (a.annotations.length ? ` · ${a.annotations.map(n => n.name || n.catalogue || n.kind).join(', ')}` : ''));
    const row = el('div', { class: 'cutouts' }, card);
    for (const { kind } of a.cutouts.filter(c => c.format.startsWith('fits'))) {
      const fig = el('figure', {}, row);
      el('img', { class: 'cutout', alt: `${kind} cutout of ${a.object_id}`, src: `cutout/${a.alert_id}/${kind}.png`, width: 63, height: 63 }, fig);
      el('figcaption', {}, fig, kind);
    }
    const svg = el('svg:svg', { class: 'lightcurve', role: 'img', 'aria-label': 'light curve' }, card);
    api(`api/alerts/${a.alert_id}/lightcurve`).then(lc => drawLightcurve(svg, lc)).catch(() => {});
  }
}

// ---- sky events: Mollweide maps ---------------------------------------------------------------
// Same projection as the server's PNG (actors/sinks/dashboard/skymap_png.cpp): RA 180° at the
// centre, increasing to the left.
function mollweide(ra, dec, w, h) {
  let lon = (180 - ra) % 360;
  if (lon > 180) lon -= 360;
  if (lon < -180) lon += 360;
  const phi = dec * Math.PI / 180, target = Math.PI * Math.sin(phi);
  let theta = phi;
  for (let i = 0; i < 50 && Math.abs(Math.cos(theta)) > 1e-9; ++i) {
    const d = (2 * theta + Math.sin(2 * theta) - target) / (2 + 2 * Math.cos(2 * theta));
    theta -= d;
    if (Math.abs(d) < 1e-10) break;
  }
  if (Math.abs(phi) > Math.PI / 2 - 1e-9) theta = Math.sign(phi) * Math.PI / 2;
  const X = lon * Math.PI / 180 * Math.cos(theta) / Math.PI, Y = Math.sin(theta);
  return [(X + 1) / 2 * w, (1 - Y) / 2 * h];
}

// Points of a small circle (radius r deg) around (ra, dec), for error regions.
function circlePoints(ra, dec, a, b = a, pa = 0) {
  const out = [], d2r = Math.PI / 180;
  for (let k = 0; k <= 72; ++k) {
    const t = k / 72 * 2 * Math.PI;
    const ex = a * Math.cos(t), ey = b * Math.sin(t);  // ellipse axes: major along PA (east of north)
    const r = Math.hypot(ex, ey) * d2r, bearing = Math.atan2(ey, ex) + pa * d2r;
    const d = dec * d2r;
    const lat = Math.asin(Math.sin(d) * Math.cos(r) + Math.cos(d) * Math.sin(r) * Math.cos(bearing));
    const lon = ra * d2r + Math.atan2(Math.sin(bearing) * Math.sin(r) * Math.cos(d), Math.cos(r) - Math.sin(d) * Math.sin(lat));
    out.push([lon / d2r, lat / d2r]);
  }
  return out;
}

function drawSky(canvas, event) {
  const w = canvas.width, h = canvas.height, ctx = canvas.getContext('2d');
  const base = () => {
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#0b1a33';
    ctx.beginPath();
    ctx.ellipse(w / 2, h / 2, w / 2, h / 2, 0, 0, 2 * Math.PI);
    ctx.fill();
  };
  const overlay = () => {
    ctx.strokeStyle = 'rgba(255,255,255,0.18)';
    ctx.lineWidth = 1;
    for (let dec = -60; dec <= 60; dec += 30) { ctx.beginPath(); for (let ra = 0; ra <= 360; ra += 5) { const [x, y] = mollweide(ra === 360 ? 359.999 : ra, dec, w, h); ra ? ctx.lineTo(x, y) : ctx.moveTo(x, y); } ctx.stroke(); }
    for (let ra = 0; ra < 360; ra += 60) { ctx.beginPath(); for (let dec = -90; dec <= 90; dec += 5) { const [x, y] = mollweide(ra + 0.001, dec, w, h); dec > -90 ? ctx.lineTo(x, y) : ctx.moveTo(x, y); } ctx.stroke(); }
    ctx.fillStyle = 'rgba(255,255,255,0.5)';
    ctx.font = `${Math.round(h / 22)}px sans-serif`;
    for (const ra of [60, 120, 180, 240, 300]) { const [x, y] = mollweide(ra, 0, w, h); ctx.fillText(`${ra}°`, x + 3, y - 3); }
    const l = event.localization;
    if (l.shape === 'circle' || l.shape === 'ellipse') {
      const pts = l.shape === 'circle' ? circlePoints(l.ra, l.dec, l.radius_deg) : circlePoints(l.ra, l.dec, l.semi_major_deg, l.semi_minor_deg, l.position_angle_deg || 0);
      ctx.strokeStyle = '#fde725';
      ctx.lineWidth = 2;
      ctx.beginPath();
      pts.forEach(([ra, dec], i) => { const [x, y] = mollweide(((ra % 360) + 360) % 360, dec, w, h); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
      ctx.stroke();
    }
    if (l.shape !== 'skymap' && l.ra !== null) {
      const [x, y] = mollweide(l.ra, l.dec, w, h);
      ctx.strokeStyle = '#fde725';
      ctx.beginPath(); ctx.moveTo(x - 8, y); ctx.lineTo(x + 8, y); ctx.moveTo(x, y - 8); ctx.lineTo(x, y + 8); ctx.stroke();
    }
    let n = 0;
    for (const c of event.coincidences) {
      if (c.ra === undefined) continue;
      const [x, y] = mollweide(c.ra, c.dec, w, h);
      ctx.fillStyle = c.status === 'withdrawn' ? 'rgba(150,150,150,0.8)' : '#ff3b30';
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      ++n;
    }
    canvas.dataset.candidates = String(n);
    canvas.dataset.drawn = l.shape;
  };
  base();
  if (event.has_skymap) {
    const img = new Image();
    img.onload = () => { base(); ctx.drawImage(img, 0, 0, w, h); overlay(); };
    img.onerror = () => overlay();
    img.src = `skymap/${encodeURIComponent(event.event_id)}.png`;
  } else {
    overlay();
  }
}

let shownEvents = '';
function drawEvents(events) {
  const key = JSON.stringify(events.map(e => [e.event_id, e.sequence, e.retracted, e.coincidences.length,
    (e.pairs || []).map(p => [p.other_event_id, p.status])]));
  if (key === shownEvents) return;
  shownEvents = key;
  const box = $('#events');
  if (!events.length) return;
  box.textContent = '';
  for (const e of events.slice(0, 6)) {
    const card = el('article', { class: 'event', 'data-id': e.event_id }, box);
    el('h3', {}, card, `${e.event_id} · ${e.kind.replace(/_/g, ' ')} · ${e.alert_type} #${e.sequence}` + (e.retracted ? ' · RETRACTED' : '') + (e.test ? ' · test' : ''));
    el('p', {}, card, `${e.source} · MJD ${fmt(e.mjd_tai, 5)} TAI · FAR ${e.far_hz === null ? '–' : e.far_hz.toExponential(2)} Hz · ${e.coincidences.length} coincident candidate(s)` +
      (e.coincidences.length ? ': ' + [...new Set(e.coincidences.map(c => c.object_id))].slice(0, 8).join(', ') : ''));
    // Pairs with other sky events (GW x GRB/neutrino) have no position of their own: a line each.
    for (const p of e.pairs || []) {
      const terms = p.terms.map(t => `${t.name} ${t.value === null ? '–' : Number(t.value).toPrecision(3)}`).join(' · ');
      el('p', { class: 'pair' + (p.status === 'withdrawn' ? ' withdrawn' : ''), 'data-other': p.other_event_id }, card,
        `coincident with ${p.other_event_id} #${p.other_event_sequence} (${p.status}) · Δt ${fmt(p.time_difference_s, 1)} s · ` +
        `FAR ${p.false_alarm_rate === null ? '–' : p.false_alarm_rate.toExponential(2)} Hz` + (terms ? ` · ${terms}` : ''));
    }
    const canvas = el('canvas', { class: 'skymap', width: 720, height: 360, 'aria-label': `sky map of ${e.event_id}` }, card);
    drawSky(canvas, e);
  }
}

// ---- polling ----------------------------------------------------------------------------------
async function pollStats() {
  try {
    const s = await api('api/stats');
    if (!graph || graph.actors.length !== s.actors.length) drawGraph(await api('api/graph'));
    drawStats(s);
  } catch (e) { $('#state').textContent = 'disconnected'; }
  setTimeout(pollStats, 1000);
}
async function pollFeed() {
  try {
    const [alerts, events] = await Promise.all([api('api/alerts'), api('api/events')]);
    drawAlerts(alerts);
    drawEvents(events);
  } catch (e) { /* the stats poll reports the connection */ }
  setTimeout(pollFeed, 3000);
}
pollStats();
pollFeed();
