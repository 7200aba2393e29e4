// The live dashboard: one EventSource on /v1/dashboard/events; every panel is redrawn from the
// state it keeps. Plain script, no build step, no dependency.
'use strict';

const MAX_DECISIONS = 50;
const COLORS = { device: '#56d4dd', mec: '#58a6ff', cloud: '#bc8cff' };
const state = { tiers: null, decisions: [], latency: [], cameras: new Map(), transcripts: [], counts: {} };

const $ = (id) => document.getElementById(id);
function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}
const fmtMs = (ms) => (ms === undefined || ms === null ? '-' : `${Math.round(ms * 10) / 10} ms`);
const time = (at) => new Date(at).toLocaleTimeString();

function connect() {
  const source = new EventSource('/v1/dashboard/events');
  source.addEventListener('open', () => setFeed(true));
  source.addEventListener('error', () => setFeed(false));
  source.addEventListener('snapshot', (e) => {
    const snap = JSON.parse(e.data);
    state.decisions = snap.decisions.slice(-MAX_DECISIONS).reverse();
    state.counts = {};
    for (const d of snap.decisions) count(d);
    state.latency = snap.latency;
    state.cameras = new Map(snap.cameras.map((c) => [c.camera_id, c]));
    state.transcripts = snap.transcripts.slice().reverse();
    onTiers(snap.tiers);
    renderDecisions(); renderLatency(); renderCameras(); renderTranscripts();
  });
  source.addEventListener('placement', (e) => {
    const d = JSON.parse(e.data);
    state.decisions.unshift(d);
    state.decisions.length = Math.min(state.decisions.length, MAX_DECISIONS);
    count(d);
    renderDecisions();
  });
  source.addEventListener('tiers', (e) => {
    const t = JSON.parse(e.data);
    // A counter the page exposes so that a test can wait for a live tick (instead of sleeping).
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks || 0) + 1);
    state.latency.push(t.latency);
    if (state.latency.length > 300) state.latency.shift();
    onTiers(t);
    renderLatency();
  });
  source.addEventListener('camera', (e) => {
    const c = JSON.parse(e.data);
    state.cameras.set(c.camera_id, c);
    renderCameras();
  });
  source.addEventListener('transcript', (e) => {
    state.transcripts.unshift(JSON.parse(e.data));
    state.transcripts.length = Math.min(state.transcripts.length, 20);
    renderTranscripts();
  });
  // Events were lost (this tab was too slow): start over from a fresh snapshot.
  source.addEventListener('gap', () => { source.close(); connect(); });
}

function setFeed(on) {
  const node = $('feed-state');
  node.textContent = on ? 'live' : 'reconnecting';
  node.className = `state ${on ? 'on' : 'off'}`;
}

function count(d) {
  const key = d.rejected ? 'rejected' : d.tier;
  state.counts[key] = (state.counts[key] || 0) + 1;
  if (d.escalated) state.counts.escalated = (state.counts.escalated || 0) + 1;
}

function onTiers(t) {
  state.tiers = t;
  const s = t.status || {};
  $('node-tier').textContent = s.tier ? `(${s.tier})` : '';
  $('policy').textContent = s.policy_version ? `policy ${s.policy_version}` : '';
  renderTopology(); renderHealth(); renderModels();
  // Camera counters (fps, drops) come with every tick.
  for (const cam of t.cameras || []) {
    const view = state.cameras.get(cam.camera_id);
    if (view) Object.assign(view, { fps: cam.fps, frames_in: cam.frames_in, dropped: cam.dropped });
  }
  renderCameraMeta();
}

function health(s) {
  if (!s || s.error) return ['down', 'bad'];
  // Its task gate refuses new work (a standing queue past its delay target): it sheds load, other tiers take it.
  if (s.load && s.load.refusing) return ['shedding load', 'warn'];
  const busy = s.load && s.load.workers > 0 ? s.load.in_system / s.load.workers : 0;
  return busy > 4 ? ['overloaded', 'warn'] : ['up', 'ok'];
}

function tierRows() {
  const s = state.tiers ? state.tiers.status : null;
  const rows = [];
  if (!s) return rows;
  const [h, cls] = health(s);
  rows.push({ tier: s.tier || 'this node', health: h, cls, load: s.load, link: 'local', linkCls: 'ok', self: true });
  if (s.cloud) {
    const c = s.cloud;
    const [ch, ccls] = c.reachable ? health(c.status) : ['unreachable', 'bad'];
    rows.push({ tier: 'cloud', health: ch, cls: ccls, load: c.status && c.status.load, link: c.reachable ? `rtt ${fmtMs(c.rtt_ms)}` : `cut (${c.unreachable_because || 'no answer'})`, linkCls: c.reachable ? 'ok' : 'bad' });
  }
  return rows;
}

function renderHealth() {
  const body = $('tier-health').tBodies[0];
  body.replaceChildren(...tierRows().map((r) => {
    const tr = el('tr', { 'data-tier': r.tier });
    tr.append(el('td', { class: `tier-${r.tier}` }, r.tier), el('td', { class: r.cls }, r.health),
      el('td', {}, r.load ? String(r.load.in_system) : '-'), el('td', {}, r.load ? String(r.load.workers) : '-'),
      el('td', { class: r.linkCls }, r.link));
    return tr;
  }));
}

function renderTopology() {
  const svg = $('topology');
  const rows = tierRows();
  const ns = 'http://www.w3.org/2000/svg';
  const make = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const nodes = [{ tier: 'device', health: 'clients', cls: 'ok' }, ...rows];
  const parts = [];
  nodes.forEach((n, i) => {
    const x = 20 + i * 150;
    if (i > 0) {
      const linkOk = n.linkCls !== 'bad';
      parts.push(make('line', { x1: x - 30, y1: 60, x2: x, y2: 60, stroke: linkOk ? '#3fb950' : '#f85149', 'stroke-width': 3, 'stroke-dasharray': linkOk ? '' : '6 4' }));
      if (n.link && n.link !== 'local') parts.push(make('text', { x: x - 15, y: 108, fill: linkOk ? '#8b98a5' : '#f85149', 'font-size': 10, 'text-anchor': 'middle' }, n.link));
    }
    const color = COLORS[n.tier] || '#58a6ff';
    const stroke = n.cls === 'ok' ? '#3fb950' : n.cls === 'warn' ? '#d29922' : '#f85149';
    parts.push(make('rect', { x, y: 30, width: 120, height: 60, rx: 8, fill: '#0f1419', stroke, 'stroke-width': 2 }));
    parts.push(make('text', { x: x + 60, y: 56, fill: color, 'font-size': 14, 'text-anchor': 'middle', 'font-weight': 600 }, n.tier));
    parts.push(make('text', { x: x + 60, y: 76, fill: stroke, 'font-size': 11, 'text-anchor': 'middle' }, n.health));
  });
  svg.replaceChildren(...parts);
}

function renderModels() {
  const body = $('models').tBodies[0];
  const rows = [];
  const s = state.tiers ? state.tiers.status : null;
  const self = (s && s.tier) || 'this node';
  // Models on disk that were never asked for are left out; a model that failed to load is shown with its state.
  for (const m of (state.tiers && state.tiers.models) || []) if (m.state !== 'UNAVAILABLE' || m.reason !== 'not loaded') rows.push([self, m.name, m.version, m.state]);
  const cloud = s && s.cloud && s.cloud.status;
  if (cloud) for (const [task, variants] of Object.entries(cloud.serves || {})) for (const v of variants) rows.push(['cloud', v.model, `${v.variant} (${task})`, 'serving']);
  body.replaceChildren(...rows.map((r) => {
    const tr = el('tr');
    r.forEach((cell, i) => tr.append(el('td', i === 0 ? { class: `tier-${cell}` } : i === 3 ? { class: cell === 'READY' || cell === 'serving' ? 'ok' : 'warn' } : {}, cell)));
    return tr;
  }));
}

function renderDecisions() {
  const c = state.counts;
  $('decision-counts').textContent = Object.entries(c).map(([k, v]) => `${k} ${v}`).join(' · ');
  $('decisions').replaceChildren(...state.decisions.map((d) => {
    const li = el('li', { class: 'decision', 'data-tier': d.tier });
    li.append(el('span', { class: 'dim' }, `${time(d.at)} `), el('span', { class: `tag tier-${d.tier}` }, d.tier), el('span', { class: 'tag' }, d.task),
      document.createTextNode(` ${d.reason} · ${d.dataClass} · ${fmtMs(d.actualMs)}`));
    if (d.escalated) li.append(el('span', { class: 'tag warn' }, 'escalated'));
    if (d.rejected) li.append(el('span', { class: 'tag bad' }, d.rejected));
    return li;
  }));
}

function renderLatency() {
  const canvas = $('latency');
  const ctx = canvas.getContext('2d');
  const w = canvas.width; const h = canvas.height; const pad = 30;
  ctx.clearRect(0, 0, w, h);
  const series = {};
  state.latency.forEach((b, i) => { for (const [tier, v] of Object.entries(b.tiers)) (series[tier] = series[tier] || []).push([i, v.avg_ms]); });
  let max = 1;
  for (const points of Object.values(series)) for (const [, v] of points) max = Math.max(max, v);
  ctx.strokeStyle = '#2d3640'; ctx.fillStyle = '#8b98a5'; ctx.font = '10px sans-serif';
  for (let k = 0; k <= 4; k++) {
    const y = h - pad / 2 - ((h - pad) * k) / 4;
    ctx.beginPath(); ctx.moveTo(pad, y); ctx.lineTo(w, y); ctx.stroke();
    ctx.fillText(String(Math.round((max * k) / 4)), 2, y + 3);
  }
  // Right-aligned on a window of at least a minute: the newest second is always at the right edge.
  const n = Math.max(state.latency.length, 60);
  const offset = n - state.latency.length;
  const legend = [];
  for (const [tier, points] of Object.entries(series)) {
    ctx.strokeStyle = COLORS[tier] || '#f0f0f0'; ctx.fillStyle = ctx.strokeStyle; ctx.lineWidth = 2; ctx.beginPath();
    points.forEach(([i, v], k) => {
      const x = pad + ((w - pad) * (i + offset)) / (n - 1);
      const y = h - pad / 2 - ((h - pad) * v) / max;
      if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
    });
    ctx.stroke();
    const last = points[points.length - 1];
    legend.push(el('span', { class: `tier-${tier}` }, `${tier}: ${fmtMs(last[1])}`));
  }
  $('latency-legend').replaceChildren(...legend);
}

function renderCameras() {
  const box = $('cameras');
  if (state.cameras.size === 0) return;
  box.querySelector('.empty')?.remove();
  for (const cam of state.cameras.values()) {
    let tile = box.querySelector(`[data-camera="${CSS.escape(cam.camera_id)}"]`);
    if (!tile) {
      tile = el('div', { class: 'camera', 'data-camera': cam.camera_id });
      const frame = el('div', { class: 'frame' });
      const img = el('img', { alt: cam.camera_id });
      const overlay = el('canvas');
      img.addEventListener('load', () => { drawBoxes(tile); frameDone(tile); });
      // A frame replaced before it was fetched (404): the next one comes with the next event.
      img.addEventListener('error', () => frameDone(tile));
      frame.append(img, overlay);
      tile.append(el('strong', {}, cam.camera_id), frame, el('div', { class: 'meta' }));
      box.append(tile);
    }
    loadFrame(tile, cam);
  }
  renderCameraMeta();
}

// One image request at a time per tile: a fast camera skips to its latest frame instead of queuing loads.
function loadFrame(tile, cam) {
  if (tile.dataset.seq === String(cam.seq)) return;
  if (tile.loading) {
    tile.pending = cam;
    return;
  }
  tile.loading = true;
  tile.dataset.seq = String(cam.seq);
  tile.view = cam;
  tile.querySelector('img').src = `/v1/dashboard/cameras/${encodeURIComponent(cam.camera_id)}/frame?seq=${cam.seq}`;
}

function frameDone(tile) {
  tile.loading = false;
  const next = tile.pending;
  tile.pending = undefined;
  if (next) loadFrame(tile, next);
}

function renderCameraMeta() {
  for (const cam of state.cameras.values()) {
    const tile = document.querySelector(`[data-camera="${CSS.escape(cam.camera_id)}"]`);
    if (!tile) continue;
    const verdict = cam.defective ? `DEFECT (${cam.regions.length} region${cam.regions.length === 1 ? '' : 's'})` : 'ok';
    tile.querySelector('.meta').textContent = `frame ${cam.frame_id} · ${verdict} · score ${cam.score.toFixed(2)} · ${cam.fps} fps · ${cam.dropped} dropped · ${cam.model}@${cam.version}`;
  }
}

function drawBoxes(tile) {
  const cam = tile.view;
  const img = tile.querySelector('img');
  const canvas = tile.querySelector('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  const sx = img.naturalWidth / (cam.width || img.naturalWidth);
  const sy = img.naturalHeight / (cam.height || img.naturalHeight);
  ctx.lineWidth = Math.max(2, img.naturalWidth / 150);
  ctx.strokeStyle = '#f85149'; ctx.fillStyle = '#f85149'; ctx.font = `${Math.max(12, img.naturalWidth / 25)}px sans-serif`;
  for (const r of cam.regions) {
    ctx.strokeRect(r.box.x * sx, r.box.y * sy, r.box.width * sx, r.box.height * sy);
    ctx.fillText(r.score.toFixed(2), r.box.x * sx + 2, Math.max(12, r.box.y * sy - 4));
  }
}

function renderTranscripts() {
  if (state.transcripts.length === 0) return;
  $('transcripts').replaceChildren(...state.transcripts.map((t) => {
    const li = el('li');
    li.append(el('span', { class: 'dim' }, `${time(t.at)} `), el('span', { class: `tag tier-${t.tier || 'mec'}` }, t.tier || '-'), document.createTextNode(t.text));
    return li;
  }));
}

connect();
