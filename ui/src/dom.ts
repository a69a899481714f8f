// A tiny element builder: the screens are small, so no framework (see docs/ARCHITECTURE.md).

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value as EventListener);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Appends children, skipping the empty ones (a screen's optional parts). */
export function append(el: Element, ...children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** Writes `text` into `el` only when it differs: writing text replaces the node holding it, which
 * WebKit then lays out and draws again even when the text is the same — and draws it in one
 * rectangle with whatever else changed, however far away (a banner at the top and the answer in
 * hand lower down make most of the screen). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
