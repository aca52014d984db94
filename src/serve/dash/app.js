// The retool dashboard. Every text that comes from data is put in the page as text (textContent, text nodes),
// never as HTML: answers, code and program outputs are untrusted.
'use strict';

const REASONS = ['samples_disagree', 'tool_failed', 'budget_hit', 'no_answer', 'generation_error'];
const CALL_STATUS = ['ok', 'error', 'timeout', 'sandbox_error', 'refused'];
const SVGNS = 'http://www.w3.org/2000/svg';
let csrf = null;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else if (k === 'cls') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function fmtTime(t) {
  if (!t) return '';
  return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
function fmtNum(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  const s = Number(x).toFixed(digits === undefined ? 3 : digits);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function showError(msg) {
  const p = document.getElementById('error');
  p.textContent = msg;
  p.hidden = !msg;
}

async function api(path, opts) {
  const o = Object.assign({credentials: 'same-origin', headers: {}}, opts || {});
  if (o.method === 'POST') o.headers['X-CSRF-Token'] = csrf;
  const r = await fetch('/ui/api/' + path, o);
  if (r.status === 401) { location.href = '/ui/login'; throw new Error('logged out'); }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

function hashParts() {
  const h = location.hash.replace(/^#/, '') || 'review';
  const q = h.indexOf('?');
  return {page: q < 0 ? h : h.slice(0, q), args: new URLSearchParams(q < 0 ? '' : h.slice(q + 1))};
}
function go(page, args) {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(args)) if (v !== '' && v !== null && v !== undefined) s.set(k, v);
  const q = s.toString();
  location.hash = page + (q ? '?' + q : '');
}

function pager(total, offset, limit, onPage) {
  const end = Math.min(total, offset + limit);
  return el('div', {cls: 'pager'},
    el('button', {type: 'button', disabled: offset <= 0, on: {click: () => onPage(Math.max(0, offset - limit))}}, 'Newer'),
    el('span', {}, total ? `${offset + 1}–${end} of ${total}` : 'none'),
    el('button', {type: 'button', disabled: end >= total, on: {click: () => onPage(offset + limit)}}, 'Older'));
}

function select(name, options, value) {
  return el('select', {name}, el('option', {value: ''}, 'any'),
    options.map(o => el('option', {value: o, selected: o === value}, o.replace(/_/g, ' '))));
}

// ---- Review ----
async function reviewPage(args) {
  const offset = Number(args.get('offset') || 0), limit = 50;
  const q = new URLSearchParams({offset, limit});
  for (const k of ['status', 'reason', 'request', 'tag']) if (args.get(k)) q.set(k, args.get(k));
  const data = await api('review?' + q);
  const form = el('form', {cls: 'filters', id: 'review-filters'},
    el('label', {}, 'Status', select('status', ['pending', 'approved', 'rejected'], args.get('status'))),
    el('label', {}, 'Reason', select('reason', REASONS, args.get('reason'))),
    el('label', {}, 'Request', el('input', {name: 'request', size: 8, value: args.get('request') || ''})),
    el('label', {}, 'Tag', el('input', {name: 'tag', size: 10, value: args.get('tag') || ''})),
    el('button', {type: 'submit'}, 'Filter'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    go('review', Object.fromEntries(new FormData(form)));
  });
  const rows = data.items.map(it => el('tr', {},
    el('td', {}, fmtTime(it.time)),
    el('td', {}, el('a', {href: '#entry/' + encodeURIComponent(it.id), cls: 'entry-link'}, it.id)),
    el('td', {cls: it.status}, it.status),
    el('td', {}, it.reasons.map(r => el('span', {cls: 'pill'}, r.replace(/_/g, ' ')))),
    el('td', {cls: 'answer'}, it.answer === null ? el('span', {cls: 'muted'}, '(none)') : it.answer),
    el('td', {cls: 'text question'}, it.question),
    el('td', {cls: 'num'}, it.tool_calls),
    el('td', {}, it.tag)));
  const page = o => { args.set('offset', o); go('review', Object.fromEntries(args)); };
  return [el('h1', {}, 'Flagged answers'), form,
    el('table', {id: 'review-table'}, el('thead', {}, el('tr', {},
      ['time', 'id', 'status', 'reasons', 'answer', 'question', 'tool calls', 'tag'].map(h => el('th', {}, h)))),
      el('tbody', {}, rows)),
    pager(data.total, data.offset, limit, page)];
}

// Splits a sample's text into what the model wrote, its code blocks, the interpreter's outputs and its final answer.
function segments(text) {
  const out = [], re = /<code>([\s\S]*?)<\/code>|<interpreter>([\s\S]*?)<\/interpreter>|<answer>([\s\S]*?)<\/answer>/g;
  let at = 0, m;
  while ((m = re.exec(text)) !== null) {
    if (m.index > at) out.push({kind: 'text', text: text.slice(at, m.index)});
    if (m[1] !== undefined) out.push({kind: 'code', text: m[1].trim().replace(/^```python\n?/, '').replace(/\n?```$/, '')});
    else if (m[2] !== undefined) out.push({kind: 'output', text: m[2].trim()});
    else out.push({kind: 'answer', text: m[3].trim()});
    at = re.lastIndex;
  }
  if (at < text.length) out.push({kind: 'text', text: text.slice(at)});
  return out;
}

function sampleView(choice, i) {
  const x = choice.retool || {}, calls = x.tool_calls || [];
  let k = 0;
  const body = segments((choice.message && choice.message.content) || '').map(s => {
    if (s.kind === 'text') return s.text.trim() ? el('div', {cls: 'text model'}, s.text.trim()) : null;
    if (s.kind === 'answer') return el('div', {cls: 'final'}, el('span', {cls: 'meta'}, 'final answer '), el('code', {}, s.text));
    if (s.kind === 'code') {
      const c = calls[k++] || {};
      return el('div', {cls: 'call'},
        el('div', {cls: 'meta'}, 'code ', c.status ? el('span', {cls: 'status-' + c.status}, c.status) : '',
          c.latency_s !== undefined ? ` · ${fmtNum(c.latency_s)} s` : ''),
        el('pre', {cls: 'code'}, s.text));
    }
    return el('div', {cls: 'call'}, el('div', {cls: 'meta'}, 'interpreter output'), el('pre', {cls: 'out'}, s.text));
  });
  const budget = x.budget || {};
  return el('div', {cls: 'card sample'},
    el('h2', {}, `Sample ${i + 1}`),
    el('p', {}, 'answer: ', el('b', {cls: 'sample-answer'}, x.answer === null || x.answer === undefined ? '(none)' : x.answer),
      ` · finish: ${choice.finish_reason || ''} · stop: ${x.stop || ''} · ${fmtNum(x.wall_s)} s`,
      budget.message ? el('span', {cls: 'bad'}, ' · ' + budget.message) : null),
    el('p', {}, (x.review_reasons || []).map(r => el('span', {cls: 'pill'}, r.replace(/_/g, ' ')))),
    body);
}

async function entryPage(id) {
  const d = await api('review/' + encodeURIComponent(id));
  const e = d.entry, comp = e.completion || {}, top = comp.retool || {};
  const msgs = (e.request && e.request.messages) || [];
  const question = msgs.length ? msgs[msgs.length - 1].content : '';
  const note = el('textarea', {id: 'note', placeholder: 'note (why)'});
  const decide = async what => {
    try {
      await api(`review/${encodeURIComponent(id)}/${what}`, {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({note: note.value})});
      render();
    } catch (err) { showError(err.message); }
  };
  const decisions = d.decisions.map(x => el('li', {},
    `${fmtTime(x.time)} · ${x.decision} by ${x.reviewer || '?'}`, x.note ? el('span', {cls: 'text'}, ': ' + x.note) : null));
  return [
    el('p', {}, el('a', {href: '#review'}, '← flagged answers')),
    el('h1', {}, 'Answer ', el('span', {id: 'entry-id'}, d.id)),
    el('div', {cls: 'card'},
      el('p', {}, 'status: ', el('b', {cls: d.status, id: 'entry-status'}, d.status), ` · ${fmtTime(e.time)}`,
        ' · ', el('a', {href: '#audit?request=' + d.request}, 'tool calls in the audit log')),
      el('p', {}, 'answer: ', el('b', {id: 'consensus'}, top.answer === null || top.answer === undefined ? '(none)' : top.answer),
        ` · samples' agreement ${fmtNum(top.agreement * 100, 0)}% of ${(comp.choices || []).length}`),
      el('p', {}, (top.review_reasons || []).map(r => el('span', {cls: 'pill'}, r.replace(/_/g, ' '))))),
    el('h2', {}, 'Question'), el('div', {cls: 'card text', id: 'question'}, question),
    (comp.choices || []).map(sampleView),
    el('div', {cls: 'card decide'}, el('h2', {}, 'Decision'),
      decisions.length ? el('ul', {id: 'decisions'}, decisions) : el('p', {cls: 'muted'}, 'No decision yet.'),
      note,
      el('button', {type: 'button', cls: 'approve', id: 'approve', on: {click: () => decide('approve')}}, 'Approve'), ' ',
      el('button', {type: 'button', cls: 'reject', id: 'reject', on: {click: () => decide('reject')}}, 'Reject'))];
}

// ---- Audit ----
function toLocalInput(t) { return t ? new Date(t * 1000 - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16) : ''; }
function fromLocalInput(s) { return s ? String(new Date(s).getTime() / 1000) : ''; }

async function auditPage(args) {
  const offset = Number(args.get('offset') || 0), limit = 50;
  const q = new URLSearchParams({offset, limit});
  for (const k of ['request', 'status', 'q', 'from', 'to']) if (args.get(k)) q.set(k, args.get(k));
  const data = await api('audit?' + q);
  const form = el('form', {cls: 'filters', id: 'audit-filters'},
    el('label', {}, 'Request', el('input', {name: 'request', size: 8, value: args.get('request') || ''})),
    el('label', {}, 'Status', select('status', CALL_STATUS, args.get('status'))),
    el('label', {}, 'From', el('input', {name: 'from', type: 'datetime-local', value: toLocalInput(Number(args.get('from')))})),
    el('label', {}, 'To', el('input', {name: 'to', type: 'datetime-local', value: toLocalInput(Number(args.get('to')))})),
    el('label', {}, 'Text in code or output', el('input', {name: 'q', size: 24, value: args.get('q') || ''})),
    el('button', {type: 'submit'}, 'Search'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    f.from = fromLocalInput(f.from);
    f.to = fromLocalInput(f.to);
    go('audit', f);
  });
  const rows = data.items.map(c => el('tr', {},
    el('td', {}, fmtTime(c.time)),
    el('td', {}, el('a', {href: '#review?request=' + c.request}, c.trajectory), ` call ${c.call}`),
    el('td', {cls: 'status-' + c.status}, c.status),
    el('td', {cls: 'num'}, fmtNum(c.latency_s)),
    el('td', {}, el('pre', {cls: 'code'}, c.code === null ? '(no code block)' : c.code)),
    el('td', {}, el('pre', {cls: 'out'}, c.output))));
  const page = o => { args.set('offset', o); go('audit', Object.fromEntries(args)); };
  return [el('h1', {}, 'Tool calls'), form,
    el('table', {id: 'audit-table'}, el('thead', {}, el('tr', {},
      ['time', 'trajectory', 'status', 'latency s', 'code', 'output'].map(h => el('th', {}, h)))), el('tbody', {}, rows)),
    pager(data.total, data.offset, limit, page)];
}

// ---- Cost and health ----
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

// A line chart of series [{name, color, values}] over the buckets' start times.
function chart(title, times, series) {
  const W = 520, H = 200, L = 48, R = 12, T = 24, B = 28;
  const all = series.flatMap(s => s.values).filter(v => v !== null && Number.isFinite(v));
  const top = Math.max(0, ...all), hi = (top > 0 ? top : 1) * 1.1;
  const x = i => L + (times.length > 1 ? i * (W - L - R) / (times.length - 1) : (W - L - R) / 2);
  const y = v => T + (H - T - B) * (1 - v / hi);
  const g = svg('svg', {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img'});
  g.append(svg('text', {x: L, y: 14}, title));
  for (let k = 0; k <= 4; k++) {
    const v = hi * k / 4;
    g.append(svg('line', {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e7ee'}));
    const label = v === 0 ? '0' : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toPrecision(2);
    g.append(svg('text', {x: L - 4, y: y(v) + 4, 'text-anchor': 'end'}, label));
  }
  if (times.length) {
    g.append(svg('text', {x: L, y: H - 8}, fmtTime(times[0])));
    g.append(svg('text', {x: W - R, y: H - 8, 'text-anchor': 'end'}, fmtTime(times[times.length - 1])));
  }
  series.forEach((s, si) => {
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      d += (d ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
      g.append(svg('circle', {cx: x(i), cy: y(v), r: 2, fill: s.color}));
    });
    if (d) g.append(svg('path', {d, fill: 'none', stroke: s.color, 'stroke-width': 1.5}));
    g.append(svg('text', {x: W - R - 70 * (series.length - si), y: 14, fill: s.color}, s.name));
  });
  return el('div', {cls: 'card chart'}, g);
}

async function costPage() {
  const s = await api('stats?buckets=24'), t = s.totals, live = s.live;
  const card = (label, v) => el('div', {cls: 'card'}, el('b', {}, v), el('span', {}, label));
  const times = s.series.map(b => b.t0), col = k => s.series.map(b => b[k]);
  const cards = [
    card('tool calls per answer (answers with tools)', fmtNum(t.calls_per_answer, 2)),
    card('tool latency p50 / p99 (s)', `${fmtNum(t.latency_p50)} / ${fmtNum(t.latency_p99)}`),
    card('tool calls', t.tool_calls), card('refused by the budget', t.refused),
    card('errors / timeouts', `${t.errors} / ${t.timeouts}`),
    card('flagged for review', t.flagged), card('pending review', t.pending), card('budget hits (flagged)', t.budget_hits),
    card('time per flagged answer (s)', fmtNum(t.flagged_wall_s, 2))];
  if (live) {
    cards.push(card('answers (this server)', live.answered), card('review rate (this server)', live.review_rate === null ? '–' : fmtNum(live.review_rate * 100, 1) + '%'),
      card('time per answer (s, this server)', fmtNum(live.time_per_answer_s, 2)));
  }
  const tags = s.tags.map(g => el('tr', {}, el('td', {}, g.tag), el('td', {cls: 'num'}, g.flagged), el('td', {cls: 'num'}, g.pending),
    el('td', {cls: 'num'}, g.budget_hits), el('td', {cls: 'num'}, fmtNum(g.tool_calls / Math.max(1, g.samples), 2)),
    el('td', {cls: 'num'}, fmtNum(g.flagged_wall_s, 2))));
  return [el('h1', {}, 'Cost and health'), el('div', {cls: 'cards', id: 'totals'}, cards),
    el('div', {cls: 'charts', id: 'charts'},
      chart('tool calls per answer', times, [{name: 'calls/answer', color: '#2557a7', values: col('calls_per_answer')}]),
      chart('tool latency (s)', times, [{name: 'p50', color: '#2557a7', values: col('latency_p50')},
        {name: 'p99', color: '#b3261e', values: col('latency_p99')}]),
      chart('refused, failed, timed out', times, [{name: 'refused', color: '#9a6200', values: col('refused')},
        {name: 'errors', color: '#b3261e', values: col('errors')},
        {name: 'timeouts', color: '#6a3d9a', values: col('timeouts')}]),
      chart('flagged answers and budget hits', times, [{name: 'flagged', color: '#2557a7', values: col('flagged')},
        {name: 'budget', color: '#9a6200', values: col('budget_hits')}])),
    el('h2', {}, 'Per tag (the request\'s "user")'),
    el('table', {id: 'tags'}, el('thead', {}, el('tr', {}, ['tag', 'flagged', 'pending', 'budget hits', 'tool calls per sample',
      'time per answer (s)'].map(h => el('th', {}, h)))), el('tbody', {}, tags))];
}

async function render() {
  const {page, args} = hashParts();
  for (const n of ['review', 'audit', 'cost'])
    document.getElementById('nav-' + n).className = (page === n || (n === 'review' && page.startsWith('entry/'))) ? 'on' : '';
  const view = document.getElementById('view');
  showError('');
  try {
    let kids;
    if (page.startsWith('entry/')) kids = await entryPage(decodeURIComponent(page.slice(6)));
    else if (page === 'audit') kids = await auditPage(args);
    else if (page === 'cost') kids = await costPage();
    else kids = await reviewPage(args);
    view.replaceChildren(...kids.flat().filter(k => k));
    view.dataset.page = page;
  } catch (err) {
    showError(err.message);
  }
}

async function start() {
  const s = await api('session');
  csrf = s.csrf;
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/ui/logout', {method: 'POST', credentials: 'same-origin', headers: {'X-CSRF-Token': csrf}});
    location.href = '/ui/login';
  });
  window.addEventListener('hashchange', render);
  render();
}

start().catch(err => showError(err.message));
