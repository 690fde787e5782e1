// The pages of `ebs-flow serve REPOSITORY`: home (recent alerts, sky events), object pages
// (light curve per band with detections, upper limits and forced photometry; the three cutouts;
// annotations with their provenance; coincidences), sky-event pages (map, 50/90 % areas,
// candidates ranked) and search by name or position. One page; the path says what to show.
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
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || (path + ': ' + res.status));
  return body;
}
const num = (v, digits) => (v === null || v === undefined || Number.isNaN(v)) ? '–' : Number(v).toFixed(digits);
const bandColour = { g: '#3fb950', r: '#ff6b6b', i: '#d29922', u: '#a371f7', z: '#8b949e', y: '#f0883e' };
const objectLink = (id, parent) => el('a', { href: '/objects/' + encodeURIComponent(id) }, parent, id);
const eventLink = (id, parent) => el('a', { href: '/events/' + encodeURIComponent(id) }, parent, id);

// A table: columns [header, cell(row, td)] where cell fills the td or returns text.
function table(parent, rows, columns, attrs = {}) {
  const t = el('table', attrs, parent);
  const head = el('tr', {}, el('thead', {}, t));
  for (const [name] of columns) el('th', {}, head, name);
  const body = el('tbody', {}, t);
  for (const row of rows) {
    const tr = el('tr', {}, body);
    for (const [, cell] of columns) {
      const td = el('td', {}, tr);
      const value = cell(row, td);
      if (value !== undefined && value !== null) td.textContent = value;
    }
  }
  if (!rows.length) el('td', { colspan: columns.length, class: 'text empty' }, el('tr', {}, body), 'none');
  return t;
}
const timeCells = [['time (ISO UTC)', r => r.iso_utc], ['JD (UTC)', r => num(r.jd_utc, 5)], ['MJD (TAI)', r => num(r.mjd_tai, 5)]];

function section(title, parent = $('#page')) {
  const s = el('section', {}, parent);
  el('h2', {}, s, title);
  return s;
}

// Light curve: magnitude against MJD (TAI) per band, brighter up; detections as dots with error
// bars, upper limits as open triangles pointing to fainter magnitudes, forced photometry as squares.
function drawLightcurve(svg, points) {
  const W = 800, H = 300, L = 44, R = 10, T = 10, B = 26;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const value = p => p.kind === 'upper_limit' ? p.limit_mag : p.mag;
  const pts = points.filter(p => Number.isFinite(value(p)));
  if (!pts.length) return;
  const mags = pts.map(value);
  let t0 = Math.min(...pts.map(p => p.mjd_tai)), t1 = Math.max(...pts.map(p => p.mjd_tai));
  const m0 = Math.min(...mags) - 0.3, m1 = Math.max(...mags) + 0.3;
  if (t1 - t0 < 1) { t0 -= 0.5; t1 += 0.5; }
  const x = t => L + (t - t0) / (t1 - t0) * (W - L - R), y = m => T + (m - m0) / (m1 - m0) * (H - T - B);
  el('svg:line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }, svg);
  el('svg:line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }, svg);
  el('svg:text', { x: L, y: H - 8 }, svg, 'MJD (TAI) ' + t0.toFixed(1));
  el('svg:text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, svg, t1.toFixed(1));
  el('svg:text', { x: 2, y: T + 8 }, svg, m0.toFixed(1));
  el('svg:text', { x: 2, y: H - B }, svg, m1.toFixed(1));
  for (const p of pts) {
    const c = bandColour[p.band] || '#ccc', px = x(p.mjd_tai), py = y(value(p));
    if (p.kind === 'upper_limit') {
      el('svg:path', { class: 'limit', d: `M${px - 4},${py - 3} L${px + 4},${py - 3} L${px},${py + 4} z`, fill: 'none', stroke: c, opacity: 0.7 }, svg);
      continue;
    }
    if (p.mag_err) el('svg:line', { x1: px, x2: px, y1: y(p.mag - p.mag_err), y2: y(p.mag + p.mag_err), stroke: c }, svg);
    if (p.kind === 'forced') el('svg:rect', { class: 'forced', x: px - 3, y: py - 3, width: 6, height: 6, fill: 'none', stroke: c }, svg);
    else el('svg:circle', { class: 'detection', cx: px, cy: py, r: 3, fill: c }, svg);
  }
  const bands = [...new Set(pts.map(p => p.band))];
  bands.forEach((b, i) => el('svg:text', { x: W - R - 14 * (bands.length - i), y: T + 8, fill: bandColour[b] || '#ccc' }, svg, b));
}

// ---- pages ------------------------------------------------------------------------------------
async function home() {
  const page = $('#page');
  page.textContent = '';
  const events = await api('/api/events?limit=50');
  table(section('Sky events'), events, [
    ['event', (r, td) => { eventLink(r.event_id, td); }], ['kind', r => r.kind], ['notice', r => `${r.alert_type} #${r.sequence}`],
    ...timeCells, ['candidates', r => r.candidates], ['FAR (Hz)', r => r.far_hz === null ? '–' : Number(r.far_hz).toExponential(2)],
  ], { id: 'events' });
  const alerts = await api('/api/recent?limit=100');
  table(section('Recent alerts'), alerts, [
    ['object', (r, td) => { objectLink(r.object_id, td); }], ['alert', r => r.alert_id], ...timeCells,
    ['RA', r => num(r.ra, 6)], ['Dec', r => num(r.dec, 6)], ['band', r => r.band], ['mag', r => num(r.mag, 3)],
    ['class', r => r.class || ''],
  ], { id: 'recent' });
  document.body.dataset.ready = 'home';
}

async function objectPage(id) {
  const o = await api('/api/objects/' + encodeURIComponent(id));
  document.title = 'ebs-flow · ' + id;
  $('#title').textContent = id;
  const page = $('#page');
  page.textContent = '';
  const top = el('div', { class: 'object-top' }, section(id));
  const facts = el('dl', { class: 'facts' }, top);
  const fact = (k, v) => { el('dt', {}, facts, k); el('dd', {}, facts, v); };
  fact('RA, Dec (deg)', `${num(o.ra, 6)}, ${num(o.dec, 6)}`);
  fact('detections / alerts', `${o.ndet} / ${o.nalerts}`);
  fact('first (ISO UTC · JD UTC · MJD TAI)', `${o.first_iso_utc} · ${num(o.first_jd_utc, 5)} · ${num(o.first_mjd_tai, 5)}`);
  fact('last (ISO UTC · JD UTC · MJD TAI)', `${o.last_iso_utc} · ${num(o.last_jd_utc, 5)} · ${num(o.last_mjd_tai, 5)}`);
  fact('last magnitude', `${num(o.last_mag, 3)} (${o.last_band})`);
  // The three cutouts of the latest alert that has them.
  const withCutouts = o.alerts.find(a => a.cutouts);
  const cutouts = el('div', { class: 'cutouts', id: 'cutouts' }, top);
  if (withCutouts) {
    for (const kind of ['science', 'template', 'difference']) {
      const f = el('figure', {}, cutouts);
      el('img', { class: 'cutout', alt: kind, src: `/cutout/${withCutouts.alert_id}/${kind}.png` }, f);
      el('figcaption', {}, f, kind);
    }
    el('p', { class: 'empty' }, cutouts, 'alert ' + withCutouts.alert_id);
  } else {
    el('p', { class: 'empty' }, cutouts, 'no cutouts stored (repository cutouts_dir)');
  }
  const lc = section('Light curve');
  drawLightcurve(el('svg:svg', { class: 'lightcurve large', id: 'lightcurve', role: 'img', 'aria-label': 'light curve' }, lc), o.lightcurve);
  table(lc, o.lightcurve, [...timeCells, ['band', r => r.band], ['kind', r => r.kind], ['mag', r => num(r.mag, 3)],
    ['±', r => num(r.mag_err, 3)], ['limit', r => num(r.limit_mag, 2)], ['alert', r => r.alert_id]], { id: 'points' });
  const annotation = (title, rows, id) => table(section(title), rows, [
    ['kind', r => r.kind], ['name', r => r.name], ['value', r => r.value === null ? '–' : String(r.value)],
    ['catalogue', r => r.catalogue || ''], ['source', r => r.source_id || ''], ['sep (″)', r => num(r.separation_arcsec, 2)],
    ['type', r => r.object_type || ''], ['alert', r => r.alert_id],
    ['provenance', r => `${r.actor} (${r.actor_type} ${r.version}, config ${String(r.config_hash || '').slice(0, 8)})`],
  ], { id });
  annotation('Crossmatches', o.annotations.filter(a => a.kind === 'crossmatch'), 'crossmatches');
  annotation('Classifications and scores', o.annotations.filter(a => a.kind === 'classification' || a.kind === 'score'), 'classifications');
  annotation('Other annotations', o.annotations.filter(a => !['crossmatch', 'classification', 'score'].includes(a.kind)), 'annotations');
  table(section('Coincidences'), o.coincidences, [
    ['event', (r, td) => { eventLink(r.event_id, td); }], ['notice', r => '#' + r.event_sequence], ['status', r => r.status],
    ['Δt (d)', r => num(r.time_difference_s / 86400, 3)], ['searched prob.', r => num(r.searched_probability, 3)], ['alert', r => r.alert_id],
    ['alert time (ISO UTC)', r => r.alert_iso_utc], ['JD (UTC)', r => num(r.alert_jd_utc, 5)], ['MJD (TAI)', r => num(r.alert_mjd_tai, 5)],
    ['band', r => r.alert_band], ['mag', r => num(r.alert_mag, 3)],
  ], { id: 'coincidences' });
  table(section('Alerts'), o.alerts, [['alert', r => r.alert_id], ...timeCells, ['RA', r => num(r.ra, 6)], ['Dec', r => num(r.dec, 6)],
    ['band', r => r.band], ['mag', r => num(r.mag, 3)], ['real/bogus', r => num(r.real_bogus, 3)], ['cutouts', r => r.cutouts || '']], { id: 'object-alerts' });
  document.body.dataset.ready = 'object';
}

async function eventPage(id) {
  const e = await api('/api/events/' + encodeURIComponent(id));
  document.title = 'ebs-flow · ' + id;
  $('#title').textContent = id;
  const page = $('#page');
  page.textContent = '';
  const s = section(id);
  if (e.skymap) {
    const facts = el('dl', { class: 'facts' }, s);
    const fact = (k, v) => { el('dt', {}, facts, k); el('dd', {}, facts, v); };
    fact('peak RA, Dec (deg)', `${num(e.skymap.peak_ra, 3)}, ${num(e.skymap.peak_dec, 3)}`);
    fact('50 % / 90 % areas (deg²)', `${num(e.skymap.area_50, 1)} / ${num(e.skymap.area_90, 1)}`);
    if (e.skymap.distance_mean !== null) fact('distance (Mpc)', `${num(e.skymap.distance_mean, 1)} ± ${num(e.skymap.distance_std, 1)}`);
    const img = el('img', { class: 'skymap', id: 'skymap', alt: 'sky map of ' + id, src: `/skymap/${encodeURIComponent(id)}.png` }, s);
    img.decode().then(() => { img.dataset.drawn = 'yes'; }, () => { img.dataset.drawn = 'failed'; });
  }
  // The credible regions stored with the event, as IVOA MOC 2.0 JSON (Aladin, mocpy, TOPCAT read them).
  if (e.mocs && e.mocs.length)
    table(s, e.mocs, [['credible region', r => `${Math.round(r.level * 100)} %`], ['notice', r => '#' + r.sequence],
      ['area (deg²)', r => num(r.area_deg2, 2)], ['cells', r => r.cells], ['MOC order', r => r.max_order],
      ['MOC 2.0 JSON', (r, td) => { el('a', { href: `/api/events/${encodeURIComponent(id)}/moc?level=${r.level}` }, td, 'download'); }]],
      { id: 'mocs' });
  table(s, e.notices, [['notice', r => `${r.alert_type} #${r.sequence}`], ['kind', r => r.kind], ...timeCells,
    ['shape', r => r.shape], ['FAR (Hz)', r => r.far_hz === null ? '–' : Number(r.far_hz).toExponential(2)],
    ['retracted', r => r.retracted ? 'yes' : '']], { id: 'notices' });
  table(section('Candidates, most probable position first'), e.candidates, [
    ['rank', (r, td) => String(e.candidates.indexOf(r) + 1)], ['object', (r, td) => { objectLink(r.object_id, td); }],
    ['searched prob.', r => num(r.searched_probability, 4)], ['region', r => r.region || ''], ['status', r => r.status],
    ['RA', r => num(r.ra, 6)], ['Dec', r => num(r.dec, 6)], ['band', r => r.band], ['mag', r => num(r.mag, 3)], ...timeCells,
    ['Δt (d)', r => num(r.time_difference_s / 86400, 3)],
  ], { id: 'candidates' });
  if (e.pairs.length)
    table(section('Paired sky events'), e.pairs, [['event', (r, td) => { eventLink(r.event_id === id ? r.other_event_id : r.event_id, td); }],
      ['status', r => r.status], ['Δt (s)', r => num(r.time_difference_s, 1)], ['FAR (Hz)', r => r.false_alarm_rate]], { id: 'pairs' });
  document.body.dataset.ready = 'event';
}

async function searchPage(q) {
  $('#q').value = q;
  const page = $('#page');
  page.textContent = '';
  const r = await api('/api/search?q=' + encodeURIComponent(q));
  if (r.objects) {
    if (r.objects.length === 1 && r.objects[0].object_id === q) { location.replace('/objects/' + encodeURIComponent(q)); return; }
    table(section(`Objects matching “${q}”`), r.objects, [['object', (o, td) => { objectLink(o.object_id, td); }],
      ['RA', o => num(o.ra, 6)], ['Dec', o => num(o.dec, 6)], ['detections', o => o.ndet], ['last (ISO UTC)', o => o.last_iso_utc],
      ['last mag', o => num(o.last_mag, 3)]], { id: 'results' });
  } else {
    table(section(`Alerts within ${r.radius_arcsec}″ of RA ${num(r.ra, 6)}, Dec ${num(r.dec, 6)}`), r.cone, [
      ['object', (a, td) => { objectLink(a.object_id, td); }], ['sep (″)', a => num(a.sep_arcsec, 3)], ['alert', a => a.alert_id],
      ...timeCells, ['band', a => a.band], ['mag', a => num(a.mag, 3)]], { id: 'results' });
  }
  document.body.dataset.ready = 'search';
}

async function route() {
  const path = location.pathname.replace(/\/+/g, '/');
  try {
    if (path.startsWith('/objects/')) await objectPage(decodeURIComponent(path.slice(9)));
    else if (path.startsWith('/events/')) await eventPage(decodeURIComponent(path.slice(8)));
    else if (path === '/search') await searchPage(new URLSearchParams(location.search).get('q') || '');
    else await home();
  } catch (err) {
    $('#page').textContent = '';
    el('p', { class: 'empty', id: 'error' }, section('Not found'), String(err.message || err));
    document.body.dataset.ready = 'error';
  }
}
route();
