// The chat webview: draws questions and (streaming) answers, one element per answer, and
// posts questions and code-block button clicks to the extension (src/chatView.ts).
// Text is set with textContent only: answers are model output, never HTML.
(function () {
  const vscode = acquireVsCodeApi();
  const log = document.getElementById('log');
  const form = document.getElementById('ask');
  const question = document.getElementById('question');

  function entry(id, cls) {
    let el = document.getElementById(id);
    if (!el) {
      el = document.createElement('div');
      el.id = id;
      el.className = cls;
      log.appendChild(el);
    }
    return el;
  }

  function button(label, type, code) {
    const b = document.createElement('button');
    b.textContent = label;
    b.addEventListener('click', () => vscode.postMessage({ type, code }));
    return b;
  }

  function drawAnswer(m) {
    const el = entry('a-' + m.id, 'answer');
    el.replaceChildren();
    for (const seg of m.segments) {
      if (seg.kind === 'code') {
        const pre = document.createElement('pre');
        const code = document.createElement('code');
        code.textContent = seg.text;
        pre.appendChild(code);
        const bar = document.createElement('div');
        bar.className = 'actions';
        bar.append(button('Insert', 'insert', seg.text), button('Apply', 'apply', seg.text));
        el.append(pre, bar);
      } else {
        const p = document.createElement('p');
        p.textContent = seg.text;
        el.appendChild(p);
      }
    }
    for (const w of m.warnings || []) {
      const p = document.createElement('p');
      p.className = 'warning';
      p.textContent = w;
      el.appendChild(p);
    }
    el.classList.toggle('streaming', !m.done);
    el.scrollIntoView({ block: 'end' });
  }

  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m.type === 'question') {
      entry('q-' + m.id, 'question').textContent = m.text;
    } else if (m.type === 'answer') {
      drawAnswer(m);
    } else if (m.type === 'error') {
      const el = entry('a-' + m.id, 'answer error');
      el.textContent = m.text;
    }
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (text) {
      vscode.postMessage({ type: 'ask', question: text });
      question.value = '';
    }
  });
})();
