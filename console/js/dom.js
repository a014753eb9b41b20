// Building the DOM without innerHTML: user and server text is always set as text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;
// A labelled input with its hint and error slots (aria-describedby ties them to the input).
export function field(label, inputAttrs = {}, hint = "") {
  const id = inputAttrs.id || `f${++fieldSeq}`;
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  const { tag, options, ...attrs } = inputAttrs;
  const input = h(tag || "input", { ...attrs, id, "aria-describedby": `${hintId} ${errId}` }, options || []);
  const error = h("p", { class: "field-error", id: errId, role: "alert" });
  const box = h("div", { class: "field" },
    h("label", { for: id, text: label }), input,
    h("p", { class: "hint", id: hintId, text: hint }), error);
  box.input = input;
  box.setError = (msg) => {
    error.textContent = msg || "";
    input.setAttribute("aria-invalid", msg ? "true" : "false");
    box.classList.toggle("invalid", Boolean(msg));
  };
  box.setOk = (msg) => {
    box.setError("");
    box.querySelector(".hint").textContent = msg || hint;
    box.classList.toggle("valid", Boolean(msg));
  };
  return box;
}

export function notice(kind, text) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", text });
}
