'use strict';
// The NextStep web UI: a form for /v1/jobs, live progress from /v1/jobs/{id}/events, and the server's job history.
const $ = id => document.getElementById(id);
const SIZES = ['512x512', '256x256', '480x544', '544x480', '448x576', '576x448', '416x608', '608x416', '384x672', '672x384',
  '352x736', '736x352', '320x800', '800x320', '288x896', '896x288', '256x1024', '1024x256'];
const PRESET_USE_NORM = { t2i: true, fast: false, edit: true };
let current = null;

function headers(extra = {}) {
  const key = $('api-key').value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers(init.headers) });
  const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

function readForm() {
  if (!$('seed-lock').checked) $('seed').value = Math.floor(Math.random() * 2 ** 32);
  const p = { prompt: $('prompt').value, size: $('size').value, preset: $('preset').value, n: +$('n').value, seed: +$('seed').value, use_norm: $('use-norm').checked };
  if ($('negative').value) p.negative_prompt = $('negative').value;
  for (const [id, name] of [['cfg', 'cfg'], ['steps', 'steps'], ['shift', 'shift']])
    if ($(id).value !== '') p[name] = +$(id).value;
  const file = $('image').files[0];
  if (!file && $('candidates').value !== '') p.candidates = +$('candidates').value;
  if (!file) return { body: JSON.stringify(p), headers: { 'Content-Type': 'application/json' } };
  const form = new FormData();
  for (const [k, v] of Object.entries(p)) form.append(k, String(v));
  if ($('cfg-img').value !== '') form.append('cfg_img', $('cfg-img').value);
  form.append('image', file);
  return { body: form, headers: {} };
}

function showProgress(done, total, state) {
  $('progress').max = Math.max(total, 1);
  $('progress').value = done;
  $('progress-text').textContent = `${state}: ${done} / ${total} tokens`;
}

// Reads the server-sent event stream with fetch so the API key header can be sent.
async function follow(job) {
  const res = await fetch(`/v1/jobs/${job.id}/events`, { headers: headers() });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null');
      if (event === 'progress') showProgress(data.done, data.total, data.state);
      if (event === 'done') {
        showProgress(data.progress.done, data.progress.total, data.state);
        if (data.error) $('error').textContent = data.error.message;
        return;
      }
    }
  }
}

async function generate(e) {
  e.preventDefault();
  $('error').textContent = '';
  $('generate').disabled = true;
  try {
    const req = readForm();
    current = await api('/v1/jobs', { method: 'POST', ...req });
    $('cancel').hidden = false;
    showProgress(0, current.progress.total, current.state);
    await loadHistory();
    await follow(current);
  } catch (err) {
    $('error').textContent = err.message;
  } finally {
    current = null;
    $('cancel').hidden = true;
    $('generate').disabled = false;
    await loadHistory();
  }
}

function card(job) {
  const div = document.createElement('div');
  div.className = 'card';
  div.dataset.job = job.id;
  for (const img of job.images) {
    const a = document.createElement('a');
    a.href = img.url;
    a.download = img.url.split('/').pop();
    a.title = 'Download';
    const el = document.createElement('img');
    el.src = img.url;
    el.alt = job.params.prompt;
    a.append(el);
    div.append(a);
  }
  const p = job.params;
  div.insertAdjacentHTML('beforeend', `<div class="state"></div><div class="prompt"></div><div class="params"></div>`);
  div.querySelector('.state').textContent = job.state + (job.error ? `: ${job.error.message}` : '');
  div.querySelector('.prompt').textContent = p.prompt;
  div.querySelector('.params').textContent =
    `${job.kind} · ${p.size} · seed ${p.seed} · ${p.preset} · cfg ${p.cfg}${job.kind === 'edit' ? ` / img ${p.cfg_img}` : ''} · ${p.steps} steps · shift ${p.shift}${p.candidates > 1 ? ` · best of ${p.candidates}` : ''}` +
    (p.negative_prompt ? ` · negative: ${p.negative_prompt}` : '');
  for (const img of job.images) {
    const dl = document.createElement('a');
    dl.href = img.url;
    dl.download = img.url.split('/').pop();
    dl.textContent = 'Download';
    dl.className = 'download';
    div.append(' ', dl);
  }
  return div;
}

async function loadHistory() {
  try {
    const list = await api('/v1/jobs?limit=50');
    $('gallery').replaceChildren(...list.data.map(card));
  } catch (err) {
    $('error').textContent = err.message;
  }
}

async function init() {
  $('size').replaceChildren(...SIZES.map(s => new Option(s, s)));
  $('api-key').value = localStorage.getItem('nextstep-api-key') ?? '';
  $('api-key').addEventListener('change', () => { localStorage.setItem('nextstep-api-key', $('api-key').value); loadHistory(); });
  $('form').addEventListener('submit', generate);
  $('preset').addEventListener('change', () => { $('use-norm').checked = PRESET_USE_NORM[$('preset').value]; });
  $('image').addEventListener('change', () => {
    $('preset').value = $('image').files.length ? 'edit' : 't2i';
    $('preset').dispatchEvent(new Event('change'));
  });
  $('cancel').addEventListener('click', () => current && api(`/v1/jobs/${current.id}`, { method: 'DELETE' }).catch(err => $('error').textContent = err.message));
  api('/v1/models').then(m => $('model').textContent = m.data[0].id).catch(() => {});
  await loadHistory();
}

init();
