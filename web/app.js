// Browser demo: microphone -> AudioWorklet (16 kHz, 16-bit PCM) -> WebSocket /ws/transcribe, showing
// committed text and the tentative tail live; and a file upload to /v1/audio/transcriptions with
// stream=true, showing progress from the server-sent events. No build step, no dependencies.
const $ = (id) => document.getElementById(id);
const keyInput = $('key');
keyInput.value = localStorage.getItem('apiKey') ?? '';
keyInput.addEventListener('change', () => localStorage.setItem('apiKey', keyInput.value.trim()));
const apiKey = () => keyInput.value.trim();
const authHeaders = () => (apiKey() ? { authorization: `Bearer ${apiKey()}` } : {});
const setStatus = (text) => { $('status').textContent = text; document.body.dataset.status = text; };

fetch('/', { headers: { accept: 'application/json' } })
  .then((r) => r.json())
  .then((info) => { $('model').textContent = `${info.model} on ${info.device}`; })
  .catch(() => { $('model').textContent = 'server info unavailable'; });

let live = null;

async function start() {
  $('start').disabled = true;
  $('final').hidden = true;
  $('committed').textContent = '';
  $('tentative').textContent = '';
  setStatus('asking for the microphone');
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  // Ask the browser to resample the microphone to 16 kHz; if it cannot, the server resamples.
  const ctx = new AudioContext({ sampleRate: 16000 });
  await ctx.audioWorklet.addModule('/web/pcm-worklet.js');
  const source = ctx.createMediaStreamSource(stream);
  const worklet = new AudioWorkletNode(ctx, 'pcm-worklet');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  // Browsers cannot set an Authorization header on a WebSocket: the key goes as a subprotocol.
  const protocols = apiKey() ? ['transcribe', `bearer.${apiKey()}`] : [];
  const ws = new WebSocket(`${scheme}://${location.host}/ws/transcribe`, protocols);
  ws.binaryType = 'arraybuffer';
  live = { stream, ctx, ws, worklet };
  ws.onopen = () => {
    const language = $('language').value;
    ws.send(JSON.stringify({ type: 'config', language: language || null, sample_rate: ctx.sampleRate, interim_results: true }));
    worklet.port.onmessage = (e) => { if (ws.readyState === WebSocket.OPEN) ws.send(e.data); };
    source.connect(worklet);
    worklet.connect(ctx.destination); // silent output; keeps the worklet pulled by the graph
    setStatus('listening');
    $('stop').disabled = false;
  };
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === 'interim') {
      $('committed').textContent = msg.committed;
      $('tentative').textContent = msg.tentative;
    } else if (msg.type === 'final') {
      $('committed').textContent = msg.text;
      $('tentative').textContent = '';
      $('final').textContent = msg.text;
      $('final').hidden = false;
      setStatus(`done: ${msg.duration_s.toFixed(1)} s of audio${msg.language ? `, ${msg.language}` : ''}`);
      document.body.dataset.final = msg.text;
    } else if (msg.type === 'error') {
      setStatus(`error ${msg.code}: ${msg.message}`);
    }
  };
  ws.onclose = (e) => {
    release();
    if (!document.body.dataset.status?.startsWith('done') && !document.body.dataset.status?.startsWith('error')) setStatus(`closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
    $('start').disabled = false;
    $('stop').disabled = true;
  };
}

function release() {
  if (!live) return;
  live.stream.getTracks().forEach((t) => t.stop());
  void live.ctx.close();
}

function stop() {
  if (!live) return;
  $('stop').disabled = true;
  release();
  setStatus('finishing');
  if (live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: 'end' }));
}

async function upload() {
  const file = $('file').files[0];
  if (!file) return;
  const form = new FormData();
  form.append('file', file);
  form.append('model', 'whisper-1');
  form.append('stream', 'true');
  const progress = $('progress');
  progress.hidden = false;
  progress.value = 0;
  $('file-result').textContent = '';
  const res = await fetch('/v1/audio/transcriptions', { method: 'POST', body: form, headers: authHeaders() });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    $('file-result').textContent = `error ${res.status}: ${body.error?.message ?? res.statusText}`;
    return;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    const events = buffer.split('\n\n');
    buffer = events.pop();
    for (const event of events) {
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      if (!data) continue;
      const msg = JSON.parse(data);
      if (msg.type === 'transcript.text.delta') {
        text += msg.delta;
        progress.value = msg.total_s > 0 ? msg.done_s / msg.total_s : 0;
        $('file-result').textContent = text;
      } else if (msg.type === 'transcript.text.done') {
        progress.value = 1;
        $('file-result').textContent = msg.text;
        $('file-result').dataset.done = 'true';
      } else if (msg.type === 'error') {
        $('file-result').textContent = `error ${msg.error.code}: ${msg.error.message}`;
        $('file-result').dataset.done = 'true';
      }
    }
  }
}

$('start').addEventListener('click', () => start().catch((err) => { setStatus(`error: ${err.message}`); $('start').disabled = false; }));
$('stop').addEventListener('click', stop);
$('upload').addEventListener('click', () => upload().catch((err) => { $('file-result').textContent = `error: ${err.message}`; }));
