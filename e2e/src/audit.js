// Checks the page as it is rendered now, for small screens and assistive technology, and
// returns what is wrong, one sentence each (an empty list when nothing is).
const problems = [];
const width = window.innerWidth;
const shown = (el) => {
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
};
const named = (el) => {
  const id = el.id ? '#' + el.id : '';
  const test = el.dataset && el.dataset.testid ? '[' + el.dataset.testid + ']' : '';
  const text = (el.textContent || '').trim().slice(0, 30);
  return el.tagName.toLowerCase() + id + test + (text ? ' "' + text + '"' : '');
};
const scrollsSideways = (el) => {
  for (let up = el.parentElement; up; up = up.parentElement) {
    const overflow = getComputedStyle(up).overflowX;
    if (overflow === 'auto' || overflow === 'scroll') return true;
  }
  return false;
};
const accessibleName = (el) =>
  (el.getAttribute('aria-label') || '').trim() ||
  (el.getAttribute('aria-labelledby') || '').trim() ||
  (el.labels && el.labels.length ? Array.from(el.labels).map((l) => l.textContent).join(' ').trim() : '') ||
  (el.getAttribute('title') || '').trim();

// Width: nothing wider than the window, except inside a box that scrolls sideways on purpose.
if (document.documentElement.scrollWidth > width + 1) {
  problems.push('the page is ' + document.documentElement.scrollWidth + ' px wide in a ' + width + ' px window');
}
const overflows = (el) => el.getBoundingClientRect().right > width + 1;
for (const el of document.body.querySelectorAll('*')) {
  if (!shown(el) || scrollsSideways(el) || !overflows(el)) continue;
  // Only the outermost element that overflows: its children follow it.
  if (el.parentElement && el.parentElement !== document.body && overflows(el.parentElement)) continue;
  problems.push(named(el) + ' reaches ' + Math.round(el.getBoundingClientRect().right) + ' px');
}

// Names: every control, button and link says what it is.
for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
  if (shown(el) && !accessibleName(el)) problems.push(named(el) + ' has no label');
}
for (const el of document.querySelectorAll('button, a[href]')) {
  if (shown(el) && !(el.textContent || '').trim() && !accessibleName(el)) problems.push(named(el) + ' has no name');
}
for (const el of document.querySelectorAll('svg')) {
  const hidden = el.getAttribute('aria-hidden') === 'true';
  const labelled = el.getAttribute('role') === 'img' && (el.getAttribute('aria-label') || el.querySelector('title'));
  if (!hidden && !labelled) problems.push(named(el) + ' is a picture without a text alternative');
}

// Structure: one main heading, the document's language, no forced tab order.
const headings = document.querySelectorAll('h1').length;
if (headings !== 1) problems.push('the page has ' + headings + ' main headings (h1)');
if (!document.documentElement.lang) problems.push('the document does not name its language');
for (const el of document.querySelectorAll('[tabindex]')) {
  if (el.tabIndex > 0) problems.push(named(el) + ' forces the tab order (tabindex ' + el.tabIndex + ')');
}

// Contrast (WCAG AA): text against the background it is drawn on.
const rgba = (text) => {
  const parts = text.match(/[\d.]+/g).map(Number);
  return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
};
const background = (el) => {
  for (let up = el; up; up = up.parentElement) {
    const colour = rgba(getComputedStyle(up).backgroundColor);
    if (colour.a > 0) return colour;
  }
  return { r: 255, g: 255, b: 255, a: 1 };
};
const luminance = (c) => {
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
};
for (const el of document.body.querySelectorAll('*')) {
  const ownText = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!ownText || !shown(el) || el.closest('svg') || el.disabled) continue;
  const style = getComputedStyle(el);
  const back = background(el);
  const fore = rgba(style.color);
  const blend = (f, b) => Math.round(f * fore.a + b * (1 - fore.a));
  const drawn = { r: blend(fore.r, back.r), g: blend(fore.g, back.g), b: blend(fore.b, back.b) };
  const [light, dark] = [luminance(drawn), luminance(back)].sort((x, y) => y - x);
  const ratio = (light + 0.05) / (dark + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) problems.push(named(el) + ' has contrast ' + ratio.toFixed(2) + ':1');
}
return problems;
