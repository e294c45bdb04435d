// Parse Mermaid diagrams with Mermaid's own parser: a JSON list of diagram texts on stdin,
// one JSON line per diagram on stdout ({"type": ...} or {"error": ...}); exit 1 if any fails.
// Mermaid's parse needs a DOM (DOMPurify), which jsdom gives it; no browser is involved.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const text of JSON.parse(readFileSync(0, "utf8"))) {
  try {
    const parsed = await mermaid.parse(text);
    console.log(JSON.stringify({ type: parsed.diagramType }));
  } catch (error) {
    failed += 1;
    console.log(JSON.stringify({ error: String(error?.message ?? error) }));
  }
}
process.exit(failed ? 1 : 0);
