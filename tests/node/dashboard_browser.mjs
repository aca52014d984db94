// The dashboard in headless chromium (puppeteer-core over the DevTools protocol), against a running
// `retool serve --dashboard` (tests/long/dashboard_browser.sh starts it):
//   node dashboard_browser.mjs BASE_URL TOKEN_FILE QUEUE AUDIT RETOOL_BIN OUT_DIR
// Fails (exit 1) on the first check that does not hold; writes a screenshot of each page to OUT_DIR.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';

const [base, tokenFile, queue, audit, bin, out] = process.argv.slice(2);
const token = fs.readFileSync(tokenFile, 'utf8').trim();
function check(ok, what) {
  if (!ok) throw new Error('dashboard_browser: ' + what);
  console.log('ok: ' + what);
}

// 1. A real answer of the tiny model, flagged (a random model writes no boxed answer).
const r = await fetch(base + '/v1/chat/completions', {method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({model: 'model', messages: [{role: 'user', content: 'Compute 6*7.'}], seed: 1})});
const answer = await r.json();
const id = answer.retool && answer.retool.review_id;
check(r.status === 200 && answer.retool.needs_review && id, `retool serve flagged its answer (${id})`);

// 2. An answer from an earlier run whose program printed HTML and script (as the sandbox returns a program's
// stdout); every untrusted field carries a payload. Appended the way the server appends: one write, one line.
const evil = '<script>window.__pwned = 1; alert(1)</script><img src=x onerror="window.__pwned = 2">';
const xid = 'chatcmpl-evil-77';
const content = `Thinking ${evil}\n<code>\n\`\`\`python\nprint('${evil}')\n\`\`\`\n</code>\n<interpreter>\n${evil}\n` +
  `</interpreter>\n<answer>\n\\boxed{${evil}}\n</answer>`;
const entry = {kind: 'entry', id: xid, time: Date.now() / 1000, request: {model: 'model', user: evil,
  messages: [{role: 'user', content: 'What does this print? ' + evil}], n: 1},
  completion: {id: xid, choices: [{index: 0, message: {role: 'assistant', content}, finish_reason: 'stop',
    retool: {answer: evil, tool_calls: [{code: `print('${evil}')`, output: evil, status: 'ok', latency_s: 0.02}],
      budget: {message: evil}, stop: 'eos', review_reasons: ['tool_failed'], wall_s: 0.3}}],
  retool: {answer: evil, agreement: 1, needs_review: true, review_reasons: ['tool_failed']}}};
fs.appendFileSync(queue, JSON.stringify(entry) + '\n');
fs.appendFileSync(audit, JSON.stringify({time: Date.now() / 1000, trajectory: 'p77-s0', call: 0,
  code: `print('${evil}')`, output: evil, status: 'ok', latency_s: 0.02}) + '\n');

const browser = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']});
let failure = null;
try {
  const page = await browser.newPage();
  await page.setViewport({width: 1280, height: 900});
  const problems = [];
  page.on('dialog', d => { problems.push('a dialog opened: ' + d.message()); d.dismiss(); });
  page.on('pageerror', e => problems.push('page error: ' + e.message));
  const pwned = async () => page.evaluate(() => window.__pwned === undefined && document.images.length === 0 &&
    [...document.scripts].every(s => s.src.endsWith('/ui/app.js')));

  // Without the token: nothing but the way to the login.
  let resp = await page.goto(base + '/ui/');
  check(resp.status() === 401 && !(await page.content()).includes('Compute'), 'the page without a token is 401');
  // A wrong token is refused; the right one logs in.
  await page.goto(base + '/ui/login');
  await page.type('#token', 'not-the-token-at-all');
  await Promise.all([page.waitForNavigation(), page.click('#login')]);
  check((await page.$('#failed')) !== null, 'a wrong token is refused');
  await page.type('#token', token);
  await Promise.all([page.waitForNavigation(), page.click('#login')]);
  const cookies = await page.cookies();
  const c = cookies.find(k => k.name === 'retool_dash_session');
  check(c && c.httpOnly && c.sameSite === 'Strict', 'login sets an HttpOnly, SameSite=Strict cookie');
  check(!(await page.evaluate(() => document.cookie)).includes('retool_dash_session'), 'scripts cannot read it');

  // Review: both answers listed; the payloads are text.
  await page.waitForSelector('#review-table tbody tr');
  const listed = await page.$$eval('#review-table a.entry-link', as => as.map(a => a.textContent));
  check(listed.includes(id) && listed.includes(xid), 'the review page lists the flagged answers');
  const cells = await page.$$eval('#review-table td.answer', tds => tds.map(t => t.textContent));
  check(cells.includes(evil), 'an answer holding HTML is shown as its text');
  check(await pwned(), 'nothing in the review list ran or loaded');
  await page.screenshot({path: out + '/dashboard-review.png', fullPage: true});

  // The untrusted entry's trace.
  await page.goto(base + '/ui/#entry/' + xid);
  await page.waitForSelector('.sample pre.out');
  const outs = await page.$$eval('pre.out', ps => ps.map(p => p.textContent));
  check(outs.includes(evil), 'the interpreter output <script>/<img onerror> is shown as text');
  const q = await page.$eval('#question', e => e.textContent);
  check(q.includes(evil), 'the question is shown as text');
  await new Promise(res => setTimeout(res, 300));
  check(await pwned(), 'nothing in the trace ran or loaded (no script, no image, no handler)');
  await page.screenshot({path: out + '/dashboard-trace-untrusted.png', fullPage: true});

  // The real answer: open, approve with a note.
  await page.goto(base + '/ui/#entry/' + id);
  await page.waitForSelector('#approve');
  check((await page.$eval('#entry-status', e => e.textContent)) === 'pending', 'the flagged answer is pending');
  await page.screenshot({path: out + '/dashboard-trace.png', fullPage: true});
  await page.type('#note', 'checked in the browser');
  await page.click('#approve');
  await page.waitForFunction(() => document.querySelector('#entry-status') &&
    document.querySelector('#entry-status').textContent === 'approved');
  const list = execFileSync(bin, ['review', 'list', '--queue', queue], {encoding: 'utf8'});
  const line = list.split('\n').find(l => l.startsWith(id + ' '));
  check(line && /Z\s+approved\s/.test(line), '`retool review list` reports the approval: ' + line);
  const shown = JSON.parse(execFileSync(bin, ['review', 'show', id, '--queue', queue], {encoding: 'utf8'}));
  check(shown.decisions.some(d => d.note === 'checked in the browser' && d.decision === 'approved'),
    'the note is in the queue');

  // Audit: search by text finds the call; shown as text.
  await page.goto(base + '/ui/#audit?q=' + encodeURIComponent('<script>'));
  await page.waitForSelector('#audit-table tbody tr');
  const codes = await page.$$eval('#audit-table pre.out', ps => ps.map(p => p.textContent));
  check(codes.includes(evil), 'the audit search finds the call and shows its output as text');
  check(await pwned(), 'nothing in the audit page ran or loaded');
  await page.screenshot({path: out + '/dashboard-audit.png', fullPage: true});

  // Cost and health: the charts are drawn (inline SVG) and the tags table holds the payload as text.
  await page.goto(base + '/ui/#cost');
  await page.waitForSelector('#charts svg');
  const charts = await page.$$eval('#charts svg', s => s.length);
  check(charts === 4, 'four charts drawn');
  const tags = await page.$$eval('#tags td', tds => tds.map(t => t.textContent));
  check(tags.includes(evil), 'a tag holding HTML is shown as text');
  check(await pwned(), 'nothing in the cost page ran or loaded');
  await page.screenshot({path: out + '/dashboard-cost.png', fullPage: true});
  check(problems.length === 0, 'no dialog and no page error: ' + problems.join('; '));
} catch (e) {
  failure = e;
} finally {
  await browser.close();
}
if (failure) {
  console.error(failure.message);
  process.exit(1);
}
console.log('dashboard_browser: all checks hold');
