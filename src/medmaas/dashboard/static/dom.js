// DOM helpers. Text is always set as text (textContent), never parsed as HTML: whatever a model
// name, a card or an error message holds, it cannot become markup or script.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(main, ...nodes) {
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
  main.focus({ preventScroll: true });
}

export function table(caption, headers, rows) {
  return el("div", { class: "table-wrap" },
    el("table", {},
      el("caption", {}, caption),
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))))));
}

export function fmt(value, digits = 3) {
  return typeof value === "number" ? value.toFixed(digits) : String(value ?? "");
}

export function headline(h) {
  if (!h) return "—";
  const ci = h.ci ? ` (95% CI ${fmt(h.ci[0])}–${fmt(h.ci[1])})` : "";
  return `${h.name.toUpperCase()} ${fmt(h.value)}${ci}`;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function stage(name) {
  return el("span", { class: `stage stage-${name}` }, name);
}
