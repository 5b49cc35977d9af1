// Validates AsyncAPI documents with the AsyncAPI initiative's own parser and its
// built-in rules. Every diagnostic of severity error or warning fails the check, so
// the document stays lint clean. Usage: node check-asyncapi.mjs FILE...
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const severities = ['error', 'warning', 'info', 'hint'];
const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const text = await readFile(file, 'utf8');
  const { document, diagnostics } = await parser.parse(text, { source: file });
  const findings = diagnostics.filter((d) => d.severity <= 1);
  for (const d of findings) {
    console.log(`${file}: ${severities[d.severity]} ${d.code}: ${d.message} at /${d.path.join('/')}`);
  }
  if (!document || findings.length > 0) {
    failed = true;
  } else {
    console.log(`${file}: valid AsyncAPI ${document.version()}, ` +
                `${document.channels().length} channels, ${document.operations().length} operations`);
  }
}
process.exit(failed ? 1 : 0);
