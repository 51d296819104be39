// The console's pages, drawn from the JSON API. No framework, no build step. Every value
// from the API is set as text (never as HTML): findings carry attacker-controlled fields.
'use strict';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
const STATUSES = ['new', 'acknowledged', 'resolved', 'suppressed'];
const SVG = 'http://www.w3.org/2000/svg';
let session = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'onclick' || key === 'onchange' || key === 'onsubmit') node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

async function api(path, options) {
  const init = Object.assign({ credentials: 'same-origin', headers: {} }, options || {});
  if (init.method && init.method !== 'GET') {
    init.headers['x-csrf-token'] = session ? session.csrf : '';
    init.headers['content-type'] = 'application/json';
  }
  const response = await fetch(path, init);
  if (response.status === 401) { location.href = '/login'; throw new Error('logged out'); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || body.error || ('HTTP ' + response.status));
  return body;
}

function severity(name) { return el('span', { class: 'sev ' + name, text: name }); }
function page() { return document.getElementById('page'); }
function show(...nodes) { page().replaceChildren(...nodes); }
function failure(error) { return el('p', { class: 'error', text: String(error.message || error) }); }
function link(href, text) { return el('a', { href: href, text: text }); }

// ------------------------------------------------------------------ overview

async function overview() {
  const params = new URLSearchParams(location.search);
  const range = params.get('range') || '24h';
  const picker = el('select', { id: 'overview-range' },
    ['24h', '7d', '30d', 'custom'].map(r => el('option', { value: r, selected: r === range, text: r === 'custom' ? 'custom' : 'last ' + r })));
  const since = el('input', { id: 'overview-since', placeholder: 'since (RFC 3339)', value: params.get('since') || '' });
  const until = el('input', { id: 'overview-until', placeholder: 'until (RFC 3339)', value: params.get('until') || '' });
  const go = el('button', { type: 'button', text: 'Show', onclick: () => {
    const next = new URLSearchParams({ range: picker.value });
    if (picker.value === 'custom') { next.set('since', since.value); next.set('until', until.value); }
    else if (until.value) next.set('until', until.value);
    location.search = next.toString();
  } });
  const query = new URLSearchParams();
  if (range === 'custom') { query.set('since', params.get('since') || ''); query.set('until', params.get('until') || ''); }
  else { query.set('range', range); if (params.get('until')) query.set('until', params.get('until')); }
  let data;
  try { data = await api('/v1/overview?' + query); } catch (e) { show(failure(e)); return; }
  const header = el('div', { class: 'filters' }, el('label', {}, 'Period', picker), el('label', {}, 'Since', since), el('label', {}, 'Until', until), go);
  const summary = el('p', { class: 'muted', id: 'overview-summary',
    text: data.total + ' findings from ' + data.since + ' to ' + data.until + ' (event time, by ' + data.bucket + ')' });
  const cards = el('div', { class: 'grid' }, [
    ['rule', 'Rules'], ['principal', 'Principals (AWS services left out)'], ['account', 'Accounts'],
    ['region', 'Regions'], ['source_ip', 'Source IPs'],
  ].map(([key, title]) => breakdown(title, key, data.breakdowns[key] || [], data)));
  show(el('h1', { text: 'Overview' }), header, summary, timeline(data), legend(), cards);
}

function legend() {
  return el('div', { class: 'legend' }, SEVERITIES.map(s => el('span', {}, el('i', { class: s }), s)));
}

// A stacked bar per bucket; a click on a segment lists that bucket's findings of that severity.
function timeline(data) {
  const width = 1000, height = 200, left = 40, bottom = 24;
  const chart = svg('svg', { class: 'timeline', id: 'timeline', viewBox: `0 0 ${width} ${height + 10}`, preserveAspectRatio: 'none' });
  const buckets = data.timeline;
  const max = Math.max(1, ...buckets.map(b => SEVERITIES.reduce((n, s) => n + (b.counts[s] || 0), 0)));
  const slot = (width - left) / Math.max(1, buckets.length);
  chart.append(svg('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: '#ccc' }));
  const maxLabel = svg('text', { x: 2, y: 12 }); maxLabel.textContent = String(max); chart.append(maxLabel);
  buckets.forEach((bucket, i) => {
    let y = height - bottom;
    for (const s of [...SEVERITIES].reverse()) {
      const n = bucket.counts[s] || 0;
      if (!n) continue;
      const h = (height - bottom - 16) * n / max;
      y -= h;
      const rect = svg('rect', { class: 'seg sev-' + s, x: left + i * slot + 1, y: y, width: Math.max(1, slot - 2), height: h,
        'data-bucket': bucket.bucket, 'data-severity': s });
      const tip = svg('title', {}); tip.textContent = `${bucket.bucket}: ${n} ${s}`; rect.append(tip);
      rect.addEventListener('click', () => {
        const [from, to] = bucketRange(bucket.bucket, data.bucket);
        location.href = '/findings?' + new URLSearchParams({ severity: s, since: from, until: to });
      });
      chart.append(rect);
    }
    const every = Math.ceil(buckets.length / 12);
    if (i % every === 0) {
      const label = svg('text', { x: left + i * slot, y: height - 6 });
      label.textContent = data.bucket === 'hour' ? bucket.bucket.slice(5).replace('T', ' ') + 'h' : bucket.bucket.slice(5);
      chart.append(label);
    }
  });
  return chart;
}

function bucketRange(key, unit) {
  if (unit === 'hour') return [key + ':00:00Z', key + ':59:59Z'];
  return [key + 'T00:00:00Z', key + 'T23:59:59Z'];
}

function breakdown(title, key, rows, data) {
  const max = Math.max(1, ...rows.map(r => r.count));
  const filterKey = key === 'rule' ? 'rule' : key;
  return el('div', { class: 'card', id: 'breakdown-' + key }, el('h2', { text: title }),
    rows.length === 0 ? el('p', { class: 'muted', text: 'none in this period' }) : null,
    rows.map(row => {
      const fill = el('div', { class: 'bar-fill' });
      fill.style.width = (100 * row.count / max) + '%';
      return el('div', { class: 'bar-row', title: row.value, onclick: () => {
        location.href = '/findings?' + new URLSearchParams({ [filterKey]: row.value, since: data.since, until: data.until });
      } }, el('span', { class: 'bar-label', text: row.value }), el('span', { class: 'bar-track' }, fill), el('span', { class: 'bar-count', text: row.count }));
    }));
}

// ------------------------------------------------------------------ findings

const FILTERS = ['severity', 'rule', 'plugin', 'account', 'principal', 'region', 'source_ip', 'status', 'since', 'until', 'text'];

async function findings() {
  const params = new URLSearchParams(location.search);
  const inputs = {};
  const form = el('form', { class: 'filters', id: 'findings-filters', onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const key of FILTERS) if (inputs[key].value) next.set(key, inputs[key].value);
    for (const key of ['sort', 'order']) if (params.get(key)) next.set(key, params.get(key));
    location.search = next.toString();
  } });
  for (const key of FILTERS) {
    let input;
    if (key === 'severity' || key === 'status') {
      const values = key === 'severity' ? SEVERITIES : STATUSES;
      input = el('select', { id: 'filter-' + key, name: key }, el('option', { value: '', text: 'any' }),
        values.map(v => el('option', { value: v, selected: params.get(key) === v, text: v })));
    } else {
      input = el('input', { id: 'filter-' + key, name: key, value: params.get(key) || '', size: key === 'text' ? 18 : 12 });
    }
    inputs[key] = input;
    form.append(el('label', {}, key.replace('_', ' '), input));
  }
  form.append(el('button', { type: 'submit', id: 'filter-apply', text: 'Filter' }),
    el('button', { type: 'button', class: 'secondary', text: 'Clear', onclick: () => { location.search = ''; } }));
  let data;
  try { data = await api('/v1/findings?' + params); } catch (e) { show(el('h1', { text: 'Findings' }), form, failure(e)); return; }
  const sortBy = (key) => () => {
    const next = new URLSearchParams(params);
    next.set('order', params.get('sort') === key && params.get('order') !== 'asc' ? 'asc' : 'desc');
    next.set('sort', key); next.delete('page');
    location.search = next.toString();
  };
  const body = el('tbody', {}, data.findings.map(findingRow));
  const table = el('table', { id: 'findings-table' },
    el('thead', {}, el('tr', {},
      el('th', { class: 'sortable', text: 'Time', onclick: sortBy('time') }),
      el('th', { class: 'sortable', text: 'Severity', onclick: sortBy('severity') }),
      el('th', { class: 'sortable', text: 'Rule', onclick: sortBy('rule') }),
      el('th', { text: 'Title' }), el('th', { text: 'Principal' }), el('th', { text: 'Account' }),
      el('th', { text: 'Status' }))),
    body);
  // A text search counts up to a cap: past it, the total is a lower bound ("10,000+").
  const more = data.total_is_lower_bound === true;
  const pages = Math.max(1, Math.ceil(data.total / data.per_page));
  const counted = more
    ? `${data.total.toLocaleString('en')}+ findings · page ${data.page}`
    : `${data.total} findings · page ${data.page} of ${pages}`;
  const last = more ? data.findings.length < data.per_page : data.page >= pages;
  const goto = (n) => () => { const next = new URLSearchParams(params); next.set('page', n); location.search = next.toString(); };
  const pager = el('div', { class: 'pager' },
    el('button', { type: 'button', class: 'secondary', id: 'page-prev', disabled: data.page <= 1, onclick: goto(data.page - 1), text: '‹ Newer' }),
    el('span', { id: 'findings-count', text: counted }),
    el('button', { type: 'button', class: 'secondary', id: 'page-next', disabled: last, onclick: goto(data.page + 1), text: 'Older ›' }));
  show(el('h1', { text: 'Findings' }), form, pager, table);
  const unfiltered = [...params.keys()].every(k => k === 'sort' || k === 'order') && (params.get('sort') || 'time') === 'time' && params.get('order') !== 'asc';
  if (unfiltered && data.page === 1) {
    onFinding = (row) => { const tr = findingRow(row); tr.classList.add('fresh'); body.prepend(tr); };
  }
}

function findingRow(f) {
  return el('tr', { class: 'clickable', 'data-id': f.id, onclick: () => { location.href = '/findings/' + f.id; } },
    el('td', { text: f.time }), el('td', {}, severity(f.severity)), el('td', {}, el('code', { text: f.rule_id })),
    el('td', {}, link('/findings/' + f.id, f.title)), el('td', { text: f.principal || '' }),
    el('td', { text: f.account || '' }), el('td', { class: 'status', text: f.status }));
}

async function finding(id) {
  let data;
  try { data = await api('/v1/findings/' + encodeURIComponent(id)); } catch (e) { show(failure(e)); return; }
  const f = data.finding, facts = data.facts, rule = data.rule;
  const kv = (pairs) => el('dl', { class: 'kv' }, pairs.filter(p => p[1] !== null && p[1] !== undefined && p[1] !== '')
    .map(([k, v]) => [el('dt', { text: k }), el('dd', {}, v instanceof Node ? v : String(v))]).flat());
  const status = el('select', { id: 'triage-status' }, STATUSES.map(s => el('option', { value: s, selected: s === facts.status, text: s })));
  const note = el('textarea', { id: 'triage-note', rows: 2, cols: 50, maxlength: 4096, placeholder: 'note (why)' });
  const history = el('ul', { id: 'triage-history' });
  const drawHistory = (entries) => history.replaceChildren(...entries.map(t =>
    el('li', { text: `${t.at} · ${t.actor} → ${t.status}${t.note ? ': ' + t.note : ''}` })));
  drawHistory(data.triage);
  const message = el('span', { id: 'triage-message', class: 'muted' });
  const save = el('button', { type: 'button', id: 'triage-save', text: 'Save triage', onclick: async () => {
    try {
      const answer = await api(`/v1/findings/${data.id}/triage`, { method: 'POST', body: JSON.stringify({ status: status.value, note: note.value }) });
      drawHistory(answer.triage); note.value = ''; message.textContent = 'saved';
    } catch (e) { message.textContent = e.message; }
  } });
  const actions = data.actions.length === 0 ? el('p', { class: 'muted', text: 'No action was asked for.' }) :
    el('table', { id: 'finding-actions' }, el('thead', {}, el('tr', {}, ['ID', 'Capability', 'Mode', 'Status', 'Resource'].map(h => el('th', { text: h })))),
      el('tbody', {}, data.actions.map(a => el('tr', {}, el('td', {}, link('/actions#' + a.id, a.id)), el('td', { text: a.capability }),
        el('td', { text: a.mode }), el('td', { text: a.status }), el('td', { text: a.resource })))));
  const related = data.related.length === 0 ? el('p', { class: 'muted', text: 'None.' }) :
    el('table', { id: 'finding-related' }, el('tbody', {}, data.related.map(findingRow)));
  // The event's CloudTrail record as trailwarden received it, pretty-printed (set as text:
  // its every field is the sender's).
  const records = data.records || [];
  const recordText = (r) => r.record !== undefined ? JSON.stringify(r.record, null, 2) : r.text;
  const event = el('div', { id: 'finding-event' }, records.length === 0
    ? el('p', { class: 'muted', id: 'finding-record-missing', text: 'Not kept: recorded before trailwarden kept the records of events with findings.' })
    : [
      data.records_total > 1 ? el('p', { class: 'error', id: 'finding-record-copies',
        text: `${data.records_total} different records carry this event id (a sender chooses event ids); ${records.length === data.records_total ? 'each is' : 'the first ' + records.length + ' are'} shown, oldest first.` }) : null,
      records.map((r, i) => [
        r.truncated ? el('p', { class: 'error', id: i === 0 ? 'finding-record-cut' : null, text: `Cut: only the first 256 KiB of this ${r.bytes.toLocaleString('en')}-byte record were kept.` }) : null,
        el('pre', { id: i === 0 ? 'finding-record' : 'finding-record-' + i, class: 'record', 'data-truncated': String(r.truncated), text: recordText(r) }),
      ]),
    ]);
  show(
    el('p', {}, link('/findings', '‹ all findings')),
    el('h1', { id: 'finding-title' }, severity(f.severity), ' ', f.title),
    el('div', { class: 'grid' },
      el('div', { class: 'card' }, el('h2', { text: 'Finding' }), kv([
        ['time', facts.time], ['rule', f.rule_id], ['plugin', `${f.plugin} ${f.plugin_version}`], ['plugin sha256', f.plugin_sha256],
        ['account', facts.account], ['region', facts.region], ['principal', facts.principal], ['source IP', facts.source_ip],
        ['event id', f.event_id], ['dedup key', f.dedup_key], ['recorded', f.recorded_at], ['resources', (f.resources || []).join(', ')],
      ]), f.description ? el('p', { text: f.description }) : null),
      el('div', { class: 'card', id: 'rule-info' }, el('h2', { text: 'Rule' }), rule ? [
        el('p', {}, el('strong', { text: rule.title })),
        rule.description ? el('p', { text: rule.description }) : null,
        kv([['ATT&CK', (rule.techniques || []).join(', ') || '—'], ['responds with', (rule.response || []).join(', ') || '—']]),
        rule.runbook ? [el('h2', { text: 'Runbook' }), el('pre', { id: 'runbook', text: rule.runbook })] : null,
      ] : el('p', { class: 'muted', text: 'The plugin serving now has no catalog entry for this rule.' })),
      el('div', { class: 'card' }, el('h2', { text: 'Triage' }), el('p', {}, status, ' ', save, ' ', message), note, history)),
    el('h2', { text: 'Actions it caused' }), actions,
    el('h2', { text: 'Same dedup key or principal' }), related,
    el('h2', { text: 'The event (CloudTrail record)' }), event,
    el('h2', { text: 'What the plugin recorded about the event' }), el('pre', { id: 'finding-context', text: JSON.stringify(f.context, null, 2) }));
}

// ------------------------------------------------------------------ actions

async function actions() {
  let data;
  try { data = await api('/v1/actions?limit=500'); } catch (e) { show(failure(e)); return; }
  const pending = data.actions.filter(a => a.status === 'pending_approval');
  const dry = data.actions.filter(a => a.status === 'dry_run');
  const rest = data.actions.filter(a => a.status !== 'pending_approval' && a.status !== 'dry_run');
  const approver = session && session.role === 'approver';
  show(el('h1', { text: 'Actions' }),
    approver ? null : el('p', { class: 'muted', text: 'Your role is viewer: approving, rejecting and undoing need an approver.' }),
    el('h2', { text: `Waiting for approval (${pending.length})` }), actionTable('actions-pending', pending, approver),
    el('h2', { text: `Decided and executed (${rest.length})` }), actionTable('actions-other', rest, approver),
    el('h2', { text: `Dry run: recorded, never executed (${dry.length})` }), actionTable('actions-dry-run', dry, false));
  if (location.hash) { const row = document.getElementById('action-' + location.hash.slice(1)); if (row) row.scrollIntoView(); }
}

function actionTable(id, rows, approver) {
  if (rows.length === 0) return el('p', { class: 'muted', id: id, text: 'None.' });
  return el('table', { id: id }, el('thead', {}, el('tr', {}, ['ID', 'Created', 'Status', 'Call', 'Scope', 'Plugin · event', 'Log', ''].map(h => el('th', { text: h })))),
    el('tbody', {}, rows.map(a => {
      const controls = el('td', { class: 'controls' });
      if (approver && a.status === 'pending_approval') {
        controls.append(el('button', { type: 'button', class: 'approve', 'data-id': a.id, text: 'Approve', onclick: () => confirmStep(controls, a, 'approve') }), ' ',
          el('button', { type: 'button', class: 'reject secondary', 'data-id': a.id, text: 'Reject', onclick: () => confirmStep(controls, a, 'reject') }));
      }
      if (approver && a.status === 'succeeded' && a.inverse) {
        controls.append(el('button', { type: 'button', class: 'undo secondary', 'data-id': a.id, text: 'Undo', onclick: () => confirmStep(controls, a, 'undo') }));
      }
      return el('tr', { id: 'action-' + a.id, 'data-status': a.status },
        el('td', {}, el('code', { text: a.id })), el('td', { text: a.created_at }), el('td', { class: 'status', text: a.status + (a.error ? ': ' + a.error : '') + (a.reason ? ': ' + a.reason : '') }),
        el('td', {}, el('strong', { text: a.capability }), el('pre', { text: JSON.stringify(a.request, null, 1) }),
          a.inverse ? el('div', { class: 'muted' }, 'undo: ', el('code', { text: JSON.stringify(a.inverse) })) : null),
        el('td', { text: `account ${a.account} · ${a.region} · ${a.resource}` }),
        el('td', { text: `${a.plugin} ${a.plugin_version} · ${a.event_id}` }),
        el('td', {}, el('ul', {}, (a.log || []).map(l => el('li', { text: `${l.at} ${l.actor}: ${l.what}${l.detail ? ' (' + l.detail + ')' : ''}` })))),
        controls);
    })));
}

// The confirmation step: what will happen, spelled out, then Confirm or Cancel.
function confirmStep(cell, action, verb) {
  const what = verb === 'undo' ? `run the inverse of ${action.capability} (${JSON.stringify(action.inverse)})`
    : verb === 'approve' ? `execute ${action.capability} on ${action.resource} in account ${action.account} (${action.region})`
    : `reject ${action.capability} on ${action.resource}: it will never run`;
  const reason = verb === 'reject' ? el('input', { id: 'confirm-reason', placeholder: 'reason' }) : null;
  const message = el('div', { class: 'muted', id: 'confirm-message' });
  const box = el('div', { class: 'confirm', id: 'confirm-box' }, el('p', { text: 'Really ' + what + '?' }), reason,
    el('button', { type: 'button', id: 'confirm-yes', class: verb === 'reject' ? 'danger' : '', text: 'Confirm ' + verb, onclick: async (event) => {
      event.target.disabled = true; message.textContent = 'working…';
      try {
        const answer = await api(`/v1/actions/${encodeURIComponent(action.id)}/${verb}`, { method: 'POST', body: JSON.stringify(reason ? { reason: reason.value } : {}) });
        message.textContent = `done: ${answer.action.id} is ${answer.action.status}`;
        setTimeout(actions, 600);
      } catch (e) { message.textContent = e.message; event.target.disabled = false; }
    } }), ' ',
    el('button', { type: 'button', class: 'secondary', id: 'confirm-no', text: 'Cancel', onclick: () => box.remove() }), message);
  const old = document.getElementById('confirm-box'); if (old) old.remove();
  cell.append(box);
}

// ------------------------------------------------------------------ plugins and health

async function plugins() {
  let data, health;
  try { [data, health] = await Promise.all([api('/v1/plugins'), api('/v1/health')]); } catch (e) { show(failure(e)); return; }
  const table = el('table', { id: 'plugins-table' }, el('thead', {}, el('tr', {},
    ['Plugin', 'State', 'Version · contract', 'sha256', 'Grants (mode)', 'Since start: matched · findings · failures · mean batch', 'Recorded findings · failures', 'Lifecycle'].map(h => el('th', { text: h })))),
    el('tbody', {}, data.plugins.map(p => el('tr', { 'data-plugin': p.name },
      el('td', {}, el('strong', { text: p.name })), el('td', { class: p.state === 'quarantined' ? 'error' : '', text: p.state }),
      el('td', { text: `${p.version} · ${p.contract}` }), el('td', {}, el('code', { text: p.sha256.slice(0, 16) + '…', title: p.sha256 })),
      el('td', {}, p.dry_run_everything ? 'everything, dry-run' : (p.grants.length ? el('ul', {}, p.grants.map(g => el('li', { text: `${g.capability} (${g.mode}) ${g.accounts.join(',')}` }))) : 'none')),
      el('td', { text: `${p.since_start.matched} · ${p.since_start.findings} · ${p.since_start.failures} · ${p.since_start.mean_batch_ms === null ? '—' : p.since_start.mean_batch_ms.toFixed(2) + ' ms'}` }),
      el('td', { text: `${p.findings_recorded} · ${p.failures_recorded}` }),
      el('td', {}, el('ul', {}, p.lifecycle.slice(0, 5).map(l => el('li', { text: `${l.at} ${l.event}${l.detail ? ': ' + l.detail : ''}` }))))))));
  const sources = ['http', 'sqs', 's3'].map(s => [s, health.last_item[s] || 'never since start']);
  show(el('h1', { text: 'Plugins' }), table,
    el('h1', { text: 'Health' }),
    el('div', { class: 'grid', id: 'health' },
      el('div', { class: 'card' }, el('h2', { text: 'Intake' }), el('dl', { class: 'kv' },
        sources.map(([k, v]) => [el('dt', { text: 'last ' + k }), el('dd', { text: v })]).flat(),
        el('dt', { text: 'queue' }), el('dd', { id: 'queue-depth', text: `${health.queue.depth} of ${health.queue.capacity} events` }),
        el('dt', { text: 'actions' }), el('dd', { text: Object.entries(health.actions || {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'none' }))),
      el('div', { class: 'card' }, el('h2', { text: 'Dead letters by reason' }),
        health.dead_letters.by_reason.length === 0 ? el('p', { class: 'muted', text: 'None.' }) :
          el('table', { id: 'dead-letters' }, el('tbody', {}, health.dead_letters.by_reason.map(d => el('tr', {}, el('td', { text: d.reason }), el('td', { text: d.count }), el('td', { text: 'latest ' + d.latest }))))))),
    el('h2', { text: 'Latest dead letters' }),
    el('table', {}, el('tbody', {}, health.dead_letters.latest.map(d => el('tr', {}, el('td', { text: d.recorded_at }), el('td', { text: d.reason }), el('td', { text: d.origin }), el('td', {}, el('code', { text: d.detail })))))));
}

// ------------------------------------------------------------------ live updates and routing

let onFinding = null;
let fresh = 0;

function live() {
  const source = new EventSource('/v1/stream');
  source.addEventListener('finding', (event) => {
    const row = JSON.parse(event.data);
    fresh += 1;
    document.getElementById('live').textContent = `live: ${fresh} new`;
    if (onFinding) onFinding(row);
  });
}

async function start() {
  try { session = await api('/v1/session'); } catch (e) { return; }
  document.getElementById('who').textContent = `${session.user} (${session.role})`;
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api('/logout', { method: 'POST', body: '{}' }); } finally { location.href = '/login'; }
  });
  const path = location.pathname;
  const current = path === '/' ? 'overview' : path.split('/')[1];
  const nav = document.getElementById('nav-' + current);
  if (nav) nav.classList.add('current');
  live();
  if (path === '/') await overview();
  else if (path === '/findings') await findings();
  else if (path.startsWith('/findings/')) await finding(path.slice('/findings/'.length));
  else if (path === '/actions') await actions();
  else if (path === '/plugins') await plugins();
  document.body.setAttribute('data-ready', 'true');
}

document.addEventListener('DOMContentLoaded', start);
