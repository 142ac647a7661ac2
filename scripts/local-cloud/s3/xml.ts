/** Just enough XML for S3's documents: writing elements, and reading the two request bodies S3 takes. */

export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? '';
  });
}

/** `<name>content</name>`; a string is escaped, an array is child elements already rendered. */
export function xmlElement(name: string, content: string | number | boolean | readonly string[]): string {
  const inner = Array.isArray(content) ? content.join('') : xmlEscape(String(content));
  return `<${name}>${inner}</${name}>`;
}

export function xmlDocument(root: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>${root}`;
}

/** The S3 namespace every response document root carries. */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function xmlRoot(name: string, children: readonly string[]): string {
  return xmlDocument(`<${name} xmlns="${S3_XMLNS}">${children.join('')}</${name}>`);
}

/** Every `<name>…</name>` block's inner text, in document order (no nesting of the same name). */
export function xmlBlocks(xml: string, name: string): string[] {
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
  return [...xml.matchAll(pattern)].map((m) => m[1] ?? '');
}

/** The text of the first `<name>` element, unescaped. */
export function xmlText(xml: string, name: string): string | undefined {
  const block = xmlBlocks(xml, name)[0];
  return block === undefined ? undefined : xmlUnescape(block);
}
